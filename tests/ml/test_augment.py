"""Augmentation and val-scene compositing: shapes, ranges and determinism."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ml.augment import augment, background, composite_scene, item_mask, scene_view


def _item() -> Image.Image:
    image = Image.new("RGB", (200, 150), (255, 255, 255))
    image.paste((200, 30, 30), (60, 40, 140, 110))
    return image


def test_augment_output() -> None:
    rng = np.random.default_rng(0)
    others = [_item()]
    for _ in range(20):
        view = augment(_item(), rng, others)
        assert view.shape == (224, 224, 3)
        assert view.dtype == np.uint8


def test_scene_view_is_deterministic() -> None:
    a = scene_view(_item(), 7, [_item()])
    b = scene_view(_item(), 7, [_item()])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, scene_view(_item(), 8, [_item()]))


def test_plain_background_item_is_cut_out() -> None:
    mask = np.asarray(item_mask(_item()))
    assert mask[75, 100] > 200  # the red square
    assert mask[5, 5] < 20  # the white background


def test_backgrounds_and_composites() -> None:
    rng = np.random.default_rng(1)
    for _ in range(30):
        assert background(rng, (64, 48), [_item()]).size == (64, 48)
    scene = composite_scene(_item(), rng)
    assert scene.mode == "RGB"
    assert sorted(scene.size) == [240, 320]
