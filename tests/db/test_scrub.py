"""Stored photos keep their pixels, upright, and nothing else: no EXIF (GPS), XMP, ICC
profile, comment, PNG text chunk or trailing bytes."""

from __future__ import annotations

import io
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from PIL.JpegImagePlugin import JpegImageFile

from db.media import MediaStore, extension_of
from tests.located import (
    located_exif,
    located_jpeg,
    located_png,
    located_webp,
    metadata_in,
    two_colours,
)


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize(
    ("make", "extension"),
    [(located_jpeg, "jpg"), (located_png, "png"), (located_webp, "png")],
    ids=["jpeg", "png", "webp"],
)
def test_stored_photos_hold_no_metadata(
    tmp_path: Path, make: Callable[[], bytes], extension: str
) -> None:
    data = make()
    assert "GPS" in metadata_in(data)
    digest, relative = MediaStore(tmp_path).save(data, extension_of(data))
    assert relative == f"uploads/{digest[:2]}/{digest}.{extension}"
    stored = (tmp_path / relative).read_bytes()
    assert metadata_in(stored) == []
    assert np.abs(pixels(stored) - pixels(data)).mean() < 2  # upright, same picture
    assert stat.S_IMODE((tmp_path / relative).stat().st_mode) == 0o600


def test_jpeg_turned_upright_with_its_own_tables(tmp_path: Path) -> None:
    data = located_jpeg(orientation=6)  # stored 64x32, shown rotated 90° clockwise
    _, relative = MediaStore(tmp_path).save(data, "jpg")
    with Image.open(tmp_path / relative) as stored, Image.open(io.BytesIO(data)) as sent:
        assert isinstance(stored, JpegImageFile) and isinstance(sent, JpegImageFile)
        assert stored.quantization == sent.quantization  # same quality, no second loss
        upright = np.asarray(stored.convert("RGB"), np.int16)
    assert upright.shape == (64, 32, 3)
    top, bottom = upright[4, 16], upright[60, 16]
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # red on top


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_large_images_are_reduced_upright(tmp_path: Path, image_format: str) -> None:
    out = io.BytesIO()
    two_colours((4000, 2000)).save(out, image_format, exif=located_exif(orientation=6))
    data = out.getvalue()
    _, relative = MediaStore(tmp_path).save(data, extension_of(data))
    with Image.open(tmp_path / relative) as stored:
        assert stored.size == (500, 1000)  # divided by 4: the shorter side stays >= 448
        assert np.asarray(stored.convert("RGB"))[10, 250][0] > 150  # upright: red on top


def test_unreadable_bytes_are_not_stored(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="cannot re-encode"):
        MediaStore(tmp_path).save(b"\xff\xd8 not really a JPEG", "jpg")
    assert not list(tmp_path.rglob("*.jpg"))
