"""Safe decoding of user-supplied image bytes into RGB Pillow images."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF"})
MAX_DECODED_PIXELS = 12_000_000
"""Pixels decoded at most (36 MB as RGB). JPEGs are decoded at a reduced DCT scale, so larger
phone photos pass; PNG, WebP and GIF are decoded whole, and a 208 KB PNG of 7000x7000 passed
the former 50 MP cap and took ~200 MB per decode (0.8 GB with four at once). Pillow's own
decompression-bomb limit (89 MP, a warning turned into an error here) applies before."""
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_REDUCIBLE_AS = {"1": "L", "I;16": "I", "I;16B": "I", "I;16L": "I", "I;16N": "I"}
"""Modes ``Image.reduce`` refuses, and the mode to reduce them in."""
_open_lock = threading.Lock()


class UnsupportedImage(ValueError):
    """The bytes are not an image we can classify; ``reason`` is machine-readable.

    Reasons: ``empty``, ``not_an_image``, ``unsupported_format``, ``too_large``,
    ``truncated``, ``corrupt``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _open(data: bytes) -> Image.Image:
    # catch_warnings is process-global; the lock keeps concurrent decodes from
    # restoring each other's filters. Opening only parses the header, so it is cheap.
    with _open_lock, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise UnsupportedImage("too_large", str(exc)) from None
        except UnidentifiedImageError:
            raise UnsupportedImage("not_an_image") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise UnsupportedImage("corrupt", str(exc)) from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited on white."""
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float32) / 257.0
        return Image.fromarray(np.clip(grey + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float32), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    has_alpha = image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (
        image.mode in {"P", "L", "RGB"} and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def decode_image(
    data: bytes, max_pixels: int = MAX_DECODED_PIXELS, min_side: int = 224
) -> Image.Image:
    """Decode JPEG/PNG/WebP/GIF bytes to an upright RGB image.

    JPEGs are decoded at a reduced DCT scale when both sides stay >= ``min_side``; other
    formats are reduced by an integer factor right after decoding, before any conversion
    copies them. More than ``max_pixels`` to decode is ``too_large``. Raises
    :class:`UnsupportedImage` for anything that cannot be classified.
    """
    if not data:
        raise UnsupportedImage("empty")
    image = _open(data)
    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedImage("unsupported_format", str(image.format))
    width, height = image.size
    if width <= 0 or height <= 0:
        raise UnsupportedImage("corrupt", "zero size")
    scaled = image.format in {"JPEG", "MPO"}
    if scaled:
        image.draft("RGB", (min_side, min_side))
    if image.size[0] * image.size[1] > max_pixels:
        raise UnsupportedImage("too_large", f"{width}x{height}")
    try:
        image.load()
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        reason = "truncated" if isinstance(exc, EOFError) or "truncat" in str(exc) else "corrupt"
        raise UnsupportedImage(reason, str(exc)) from None
    if not scaled:
        image = _reduce(image, min_side)
    with contextlib.suppress(OSError, SyntaxError, ValueError, TypeError, KeyError):
        image = ImageOps.exif_transpose(image)  # unreadable EXIF: keep stored orientation
    return _to_rgb(image)


def _reduce(image: Image.Image, min_side: int) -> Image.Image:
    """Shrink by the largest integer factor that keeps the shorter side >= ``min_side`` (a
    box filter), keeping the EXIF orientation. Palettes, and colour-keyed transparency,
    which averaging would break, become RGB(A) first."""
    factor = min(image.size) // min_side
    if factor < 2:
        return image
    if image.mode == "P":
        converted = _palette_on_white(image)
    elif image.mode == "PA" or "transparency" in image.info:
        converted = image.convert("RGBA")
    elif image.mode in _REDUCIBLE_AS:
        converted = image.convert(_REDUCIBLE_AS[image.mode])
    else:
        converted = image
    reduced = converted.reduce(factor)
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    if orientation is not None:
        reduced.getexif()[ExifTags.Base.Orientation] = orientation
    return reduced


def _palette_on_white(image: Image.Image) -> Image.Image:
    """A palette image as RGB, its transparency composited on white in the palette itself:
    no full-size RGBA copy (and none of ``reduce``'s premultiplied one) is made."""
    transparency = image.info.get("transparency")
    palette = image.getpalette("RGB") or []
    count = len(palette) // 3
    if isinstance(transparency, int):
        alphas = [0 if i == transparency else 255 for i in range(count)]
    elif isinstance(transparency, bytes):
        alphas = [*transparency[:count], *[255] * (count - len(transparency))]
    else:
        return image.convert("RGB")
    image.putpalette(
        [
            round(c * a / 255 + 255 - a)
            for i, a in enumerate(alphas)
            for c in palette[3 * i : 3 * i + 3]
        ]
    )
    image.info.pop("transparency")
    return image.convert("RGB")


def decode_path(path: Path) -> Image.Image:
    """Read a file and decode it with :func:`decode_image`."""
    return decode_image(Path(path).read_bytes())
