"""Images as they are stored: re-encoded upright, without any metadata, no larger than needed.

Whatever a file carried (EXIF with its GPS position, XMP, ICC profile, comments, PNG text
chunks, trailing bytes) is left behind: only the pixels are encoded again. JPEGs stay JPEGs
with their own quantisation tables and chroma subsampling (no visible loss, about the same
size); every other format becomes a PNG (lossless, transparency kept). The ICC profile is
dropped without converting colours, so that stored pixels are the values the classifier saw.
Large images are reduced by a whole factor while their shorter side stays at least
:data:`MIN_SIDE` (JPEGs while decoding, which is what keeps a 12-megapixel file cheap).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

from PIL import Image, ImageOps, JpegImagePlugin

MIN_SIDE = 448
"""Shorter side kept at least: the rule the bot downloads photos by (twice the model's input,
enough for the model and for training crops)."""
JPEG_MODES = frozenset({"L", "RGB"})
PNG_MODES = frozenset({"1", "L", "LA", "I;16", "RGB", "RGBA"})
SCRUBBED_MARKER = ".metadata-scrubbed"
"""Written in the data dir once every image stored by earlier versions has been re-encoded."""

log = logging.getLogger(__name__)


class UnreadableImage(OSError):
    """The bytes are not an image that can be re-encoded (so they are not stored)."""


def scrubbed(data: bytes, extension: str) -> bytes:
    """``data`` decoded, turned upright (EXIF orientation) and encoded again as ``extension``
    (``jpg`` or ``png``) with no metadata; raises :class:`UnreadableImage`."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            jpeg: dict[str, object] = {}
            if isinstance(image, JpegImagePlugin.JpegImageFile):
                jpeg = _jpeg_tables(image)
                image.draft(image.mode, (MIN_SIDE, MIN_SIDE))
            image.load()
            factor = min(image.size) // MIN_SIDE
            clean = image.reduce(factor) if factor > 1 else image.copy()
            with contextlib.suppress(OSError, SyntaxError, ValueError, TypeError, KeyError):
                clean = ImageOps.exif_transpose(clean)  # unreadable EXIF: pixels as stored
        clean = _encodable(clean, JPEG_MODES if extension == "jpg" else PNG_MODES)
        clean.info = {}
        out = io.BytesIO()
        if extension == "jpg":
            clean.save(out, "JPEG", **jpeg)
        else:
            clean.save(out, "PNG")
        return out.getvalue()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"cannot re-encode the image: {exc}") from None


def _jpeg_tables(image: JpegImagePlugin.JpegImageFile) -> dict[str, object]:
    """The source's quantisation tables and subsampling (``quality="keep"`` for a copy)."""
    options: dict[str, object] = {"qtables": image.quantization} if image.quantization else {}
    sampling = JpegImagePlugin.get_sampling(image)
    if sampling != -1:
        options["subsampling"] = sampling
    return options or {"quality": 90}


def _encodable(image: Image.Image, modes: frozenset[str]) -> Image.Image:
    """``image`` in a mode the target format stores (transparency becomes alpha)."""
    if image.mode in modes:
        return image
    transparent = image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in image.info
    return image.convert("RGBA" if transparent and "RGBA" in modes else "RGB")


def scrub_stored(data_dir: Path, folders: tuple[str, ...] = ("uploads", "dataset")) -> int:
    """Once per data dir: re-encode in place every image earlier versions stored as received
    (names unchanged; a ``.jpg`` stays a JPEG, anything else becomes a PNG); returns how
    many. Files that cannot be decoded are left as they are and logged."""
    marker = data_dir / SCRUBBED_MARKER
    if marker.exists():
        return 0
    cleaned = 0
    for folder in folders:
        for path in sorted((data_dir / folder).rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            try:
                clean = scrubbed(path.read_bytes(), "jpg" if path.suffix == ".jpg" else "png")
            except UnreadableImage as exc:
                log.warning("%s left as it is: %s", path.relative_to(data_dir), exc)
                continue
            partial = path.with_name(f".{path.name}.partial")
            with os.fdopen(
                os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"
            ) as out:
                out.write(clean)
            os.replace(partial, path)
            cleaned += 1
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return cleaned
