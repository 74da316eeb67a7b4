"""Numpy-only head refit on a tiny dataset with the shipped backbone, and its cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ml.augment import AUGMENT_VERSION
from ml.classifier import Classifier
from ml.embeddings import Backbone
from ml.head import Head
from ml.image_io import UnsupportedImage
from ml.retrain import ViewEmbedder, retrain


def _tiny_dataset(dataset_dir: Path, root: Path) -> Path:
    for split, count in (("train", 3), ("val", 1)):
        for cls in ("verre", "papier", "electronique"):
            for src in sorted((dataset_dir / split / cls).glob("*.jpg"))[:count]:
                dst = root / split / cls / src.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.symlink_to(src)
    return root


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """``{"n": images the backbone really embedded}`` (the real network runs)."""
    calls = {"n": 0}
    original = Backbone.embed

    def counting(self: Backbone, image: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        return original(self, image)

    monkeypatch.setattr(Backbone, "embed", counting)
    return calls


def test_retrain_head_uses_cache(
    model_dir: Path, dataset_dir: Path, tmp_path: Path, embedded: dict[str, int]
) -> None:
    data = _tiny_dataset(dataset_dir, tmp_path / "data")
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    card = retrain(data, model, tmp_path / "work", views=1)
    assert embedded["n"] == 9 * 2 + 3 * 2  # train plain + 1 view, val plain + scene
    head = Head.load(model / "head.npz")
    assert json.loads((model / "model.json").read_text())["version"] == card["version"]
    assert card["metrics"]["val"]["n"] == 3
    assert card["dataset"]["train_counts"]["verre"] == 3

    retrain(data, model, tmp_path / "work", views=1)
    assert embedded["n"] == 24  # everything came from the embedding cache
    np.testing.assert_array_equal(Head.load(model / "head.npz").W, head.W)
    assert Classifier.load(model).classify_path(next((data / "val").glob("*/*.jpg"))).label


class _Stop(Exception):
    pass


def test_lazy_embedder_unreadable_files_and_background_pool(
    model_dir: Path, dataset_dir: Path, tmp_path: Path
) -> None:
    good = sorted((dataset_dir / "val" / "verre").glob("*.jpg"))[:2]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    tflite, cache = model_dir / "backbone.tflite", tmp_path / "cache"
    emb = ViewEmbedder(tflite, cache, unreadable=(UnsupportedImage,), chunk=1)
    x = emb.plain([*good, bad])
    assert not np.isnan(x[:2]).any() and np.isnan(x[2]).all()  # NaN row, cached too
    aug = emb.augmented(good, 0, 1, backgrounds=[*good, bad])  # unreadable background skipped
    assert aug.shape == x[:2].shape and not np.isnan(aug).any()
    (key,) = [p.stem for p in cache.glob("*/aug*.npz")]
    assert key.startswith(f"aug0_seed1_a{AUGMENT_VERSION}_bg")

    def stop() -> None:
        raise _Stop

    stopped = ViewEmbedder(tflite, cache, interrupt=stop)
    np.testing.assert_array_equal(stopped.plain(good), x[:2])  # cached: nothing to embed
    with pytest.raises(_Stop):
        stopped.augmented(good, 1, 1)


def test_cache_is_keyed_by_backbone(
    model_dir: Path, dataset_dir: Path, tmp_path: Path, embedded: dict[str, int]
) -> None:
    """Another backbone file (here: the same network with one more trailing byte) never
    reads the first one's cached embeddings."""
    paths = sorted((dataset_dir / "val" / "verre").glob("*.jpg"))[:2]
    other = tmp_path / "other.tflite"
    other.write_bytes((model_dir / "backbone.tflite").read_bytes() + b"\0")
    first = ViewEmbedder(model_dir / "backbone.tflite", tmp_path / "cache")
    second = ViewEmbedder(other, tmp_path / "cache")
    assert first.backbone.id != second.backbone.id
    first.plain(paths)
    second.plain(paths)
    assert embedded["n"] == 4
    first.plain(paths)
    assert embedded["n"] == 4
