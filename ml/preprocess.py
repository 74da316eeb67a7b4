"""The single image preprocessing step shared by training and runtime (Pillow + numpy)."""

from __future__ import annotations

import numpy as np
from PIL import Image

INPUT_SIZE = 224
RESAMPLE = Image.Resampling.BILINEAR
DESCRIPTION = (
    "decode (JPEG draft >= 224 px, EXIF orientation, RGB on white) -> resize shorter side "
    "to 224 (Pillow bilinear) -> centre crop 224x224 -> uint8 RGB; the model normalises "
    "(x - 127) / 128 itself"
)


def resize_shorter(image: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """Resize so that the shorter side is ``size`` (aspect ratio kept)."""
    w, h = image.size
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return image if new == (w, h) else image.resize(new, RESAMPLE)


def center_crop(image: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """Crop the central ``size`` x ``size`` square."""
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


def preprocess(image: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """RGB PIL image -> uint8 array [size, size, 3] (shorter side resize + centre crop)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(center_crop(resize_shorter(image, size), size), dtype=np.uint8)
