"""Augmentation and val-scene compositing: shapes, ranges and determinism."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ml.augment import (
    augment,
    background,
    composite_scene,
    crumple,
    dirty,
    item_mask,
    real_world_scene,
    scene_view,
)


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


def test_real_world_scene_views() -> None:
    rng = np.random.default_rng(3)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8))
    for _ in range(30):
        scene = real_world_scene(_item(), rng, [_item()], [photo])
        assert scene.mode == "RGB"
        assert sorted(scene.size) == [240, 320]
        view = augment(_item(), rng, [_item()], photos=[photo])
        assert view.shape == (224, 224, 3)
    assert real_world_scene(_item(), rng).size  # no photos, no other items: procedural


def test_training_views_are_reproducible() -> None:
    photo = Image.new("RGB", (100, 80), (90, 120, 60))
    a = augment(_item(), np.random.default_rng(5), [_item()], photos=[photo])
    b = augment(_item(), np.random.default_rng(5), [_item()], photos=[photo])
    np.testing.assert_array_equal(a, b)


def test_crumple_keeps_item_and_mask_aligned() -> None:
    item = _item()
    warped, mask = crumple(item, item_mask(item), np.random.default_rng(2))
    assert warped.size == mask.size == item.size
    red = np.asarray(warped)[..., 0].astype(int) - np.asarray(warped)[..., 1]
    inside = np.asarray(mask) > 200
    assert red[inside].mean() > 100  # the mask still covers the (warped) red square
    assert red[np.asarray(mask) < 20].mean() < 30


def test_dirty_darkens_part_of_the_item() -> None:
    white = Image.new("RGB", (120, 90), (255, 255, 255))
    stained = np.asarray(dirty(white, np.random.default_rng(4))).astype(int)
    assert stained.min() < 200  # some stains
    assert (stained == 255).all(axis=2).mean() > 0.2  # not everywhere
