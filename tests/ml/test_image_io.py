"""Decoding of user images: supported variants and UnsupportedImage cases."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ml.image_io import UnsupportedImage, decode_image


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _gradient(w: int = 320, h: int = 240) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    arr = np.stack([np.tile(x, (h, 1)), np.tile(x[::-1], (h, 1)), np.full((h, w), 90, np.uint8)], 2)
    return Image.fromarray(arr, "RGB")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello, this is not an image at all", "not_an_image"),
        (b"\xff\xd8\xff" + b"\x00" * 10, "not_an_image"),
    ],
)
def test_rejects_garbage(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedImage) as err:
        decode_image(data)
    assert err.value.reason == reason
    assert isinstance(err.value, ValueError)


def test_rejects_truncated_jpeg() -> None:
    data = _encode(_gradient(), "JPEG", quality=90)
    with pytest.raises(UnsupportedImage) as err:
        decode_image(data[: len(data) // 2])
    assert err.value.reason == "truncated"


def test_rejects_unsupported_format() -> None:
    with pytest.raises(UnsupportedImage) as err:
        decode_image(_encode(_gradient(), "BMP"))
    assert err.value.reason == "unsupported_format"


@pytest.mark.parametrize("size", [(10_000, 10_000), (20_000, 20_000)])
def test_rejects_decompression_bombs_without_warnings(size: tuple[int, int]) -> None:
    # 100 Mpx triggers Pillow's DecompressionBombWarning, 400 Mpx its error.
    with pytest.raises(UnsupportedImage) as err:
        decode_image(_png_header_only(*size), max_pixels=10**12)
    assert err.value.reason == "too_large"


def test_rejects_more_than_max_pixels() -> None:
    with pytest.raises(UnsupportedImage) as err:
        decode_image(_encode(_gradient(), "PNG"), max_pixels=320 * 240 - 1)
    assert err.value.reason == "too_large"


def test_large_jpeg_decodes_at_reduced_scale() -> None:
    image = decode_image(_encode(_gradient(1280, 960), "JPEG"), min_side=224)
    assert image.mode == "RGB"
    assert image.size == (320, 240)


def test_small_jpeg_keeps_full_size() -> None:
    assert decode_image(_encode(_gradient(300, 200), "JPEG")).size == (300, 200)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise
    image = decode_image(_encode(_gradient(320, 240), "JPEG", exif=exif.tobytes()))
    assert image.size == (240, 320)


def test_rgba_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (50, 40), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    image = decode_image(_encode(rgba, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((10, 10)) == (255, 255, 255)
    assert image.getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("image", "fmt"),
    [
        (Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG"),
        (Image.new("L", (64, 48), 128), "PNG"),
        (Image.new("LA", (64, 48), (128, 0)), "PNG"),
        (Image.new("P", (64, 48), 3), "PNG"),
        (Image.new("RGB", (64, 48), (0, 128, 0)), "WEBP"),
        (Image.new("RGB", (64, 48), (0, 0, 200)), "GIF"),
    ],
)
def test_modes_become_rgb(image: Image.Image, fmt: str) -> None:
    out = decode_image(_encode(image, fmt))
    assert out.mode == "RGB"
    assert out.size == (64, 48)


def test_sixteen_bit_grey_is_scaled() -> None:
    arr = np.full((48, 64), 65535, np.uint16)
    arr[:, :32] = 257 * 100
    out = np.asarray(decode_image(_encode(Image.fromarray(arr), "PNG")))
    assert out[0, 0].tolist() == [100, 100, 100]
    assert out[0, 63].tolist() == [255, 255, 255]


def test_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (40, 30), c) for c in [(255, 0, 0), (0, 0, 255)]]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    red, _, blue = np.asarray(decode_image(data))[5, 5]
    assert red > 200 and blue < 50


def test_rejects_a_png_of_more_than_12_megapixels_before_decoding() -> None:
    """A 208 KB PNG of 7000x7000 passed the former 50 MP cap and took ~200 MB per decode."""
    with pytest.raises(UnsupportedImage) as err:
        decode_image(_png_header_only(7000, 7000))
    assert err.value.reason == "too_large"


def test_jpeg_above_12_megapixels_is_decoded_at_reduced_scale() -> None:
    image = decode_image(_encode(_gradient(6000, 4000), "JPEG"))
    assert image.size == (750, 500)


@pytest.mark.parametrize("mode", ["RGB", "L", "1", "I;16"])
def test_png_is_reduced_right_after_decoding(mode: str) -> None:
    image = decode_image(_encode(_gradient(2000, 1500).convert(mode), "PNG"))
    assert image.mode == "RGB"
    assert image.size == (334, 250)  # 1/6: the shorter side stays >= 224


def test_reduced_png_keeps_orientation_and_transparency() -> None:
    palette = Image.new("P", (1000, 500), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.paste(1, (0, 0, 500, 100))  # blue top-left block, the rest red and transparent
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise: the block goes top-right
    image = decode_image(_encode(palette, "PNG", transparency=0, exif=exif.tobytes()))
    assert image.size == (250, 500)
    assert image.getpixel((240, 10)) == (0, 0, 255)
    assert image.getpixel((10, 400)) == (255, 255, 255)
