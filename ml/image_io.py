"""Safe decoding of user-supplied image bytes into RGB Pillow images."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
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


def decode_image(data: bytes, max_pixels: int = 50_000_000, min_side: int = 224) -> Image.Image:
    """Decode JPEG/PNG/WebP/GIF bytes to an upright RGB image.

    JPEGs are decoded at a reduced DCT scale when both sides stay >= ``min_side``.
    Raises :class:`UnsupportedImage` for anything that cannot be classified.
    """
    if not data:
        raise UnsupportedImage("empty")
    image = _open(data)
    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedImage("unsupported_format", str(image.format))
    width, height = image.size
    if width <= 0 or height <= 0:
        raise UnsupportedImage("corrupt", "zero size")
    if width * height > max_pixels:
        raise UnsupportedImage("too_large", f"{width}x{height}")
    if image.format in {"JPEG", "MPO"}:
        image.draft("RGB", (min_side, min_side))
    try:
        image.load()
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        reason = "truncated" if isinstance(exc, EOFError) or "truncat" in str(exc) else "corrupt"
        raise UnsupportedImage(reason, str(exc)) from None
    with contextlib.suppress(OSError, SyntaxError, ValueError, TypeError, KeyError):
        image = ImageOps.exif_transpose(image)  # unreadable EXIF: keep stored orientation
    return _to_rgb(image)


def decode_path(path: Path) -> Image.Image:
    """Read a file and decode it with :func:`decode_image`."""
    return decode_image(Path(path).read_bytes())
