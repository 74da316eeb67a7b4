"""The nearest-neighbour memory: exact neighbours, keyed entries, bounded size, blending, the
shipped exemplars file and its effect on real photos."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from db.categories import CLASSES
from ml.classifier import Classifier
from ml.memory import (
    CANDIDATES,
    EXEMPLARS_FILE,
    BlendParams,
    Exemplars,
    Memory,
    blend,
    build_exemplars,
)
from tests.model_folders import without_second

PARAMS = BlendParams(k=5, temperature=0.05, alpha=0.3, threshold=0.6)


def _clustered(n: int, seed: int, dims: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings around one centre per class, like a backbone's."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((len(CLASSES), dims)) * 3
    y = rng.integers(0, len(CLASSES), n)
    return (centres[y] + rng.standard_normal((n, dims))).astype(np.float32), y


def _memory(n: int = 400, capacity: int = 1000) -> Memory:
    xs, y = _clustered(n, 1)
    return Memory(build_exemplars("bb", xs, y, PARAMS, dims=32), capacity=capacity)


def _exact(memory: Memory, xs: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    qs = memory.exemplars.projection(xs)
    return np.sort(qs @ vectors.T, axis=1)[:, ::-1][:, : memory.params.k]


def test_neighbours_are_the_nearest_entries() -> None:
    memory = _memory()
    xs, _ = _clustered(20, 2)
    sims, labels = memory.neighbours(xs)
    exact = _exact(memory, xs, memory.exemplars.vectors.astype(np.float32))
    assert np.allclose(sims, exact, atol=2e-3)
    assert (np.diff(sims, axis=1) <= 1e-6).all()
    assert labels.min() >= 0


def test_two_stage_search_finds_the_same_neighbours_over_many_entries() -> None:
    memory = _memory(capacity=20_000)
    xs, y = _clustered(6000, 3)
    memory.add({i: (xs[i], int(y[i])) for i in range(len(xs))})
    assert len(memory) == 6000 > CANDIDATES
    queries, _ = _clustered(50, 4)
    sims, _ = memory.neighbours(queries)
    everything = np.concatenate(
        [memory.exemplars.vectors, memory.exemplars.projection(xs).astype(np.float16)]
    ).astype(np.float32)
    assert np.allclose(sims, _exact(memory, queries, everything), atol=2e-3)


def test_entries_are_added_replaced_removed_and_bounded() -> None:
    memory = _memory(n=50, capacity=3)
    xs, _ = _clustered(5, 5)
    memory.add({10: (xs[0], 1), 11: (xs[1], 2)})
    assert memory.keys() == {10, 11}
    memory.add({10: (xs[0], 3)})  # relabelled: still one entry
    sims, labels = memory.neighbours(xs[:1])
    assert labels[0, 0] == 3 and sims[0, 0] == pytest.approx(1.0, abs=1e-3)
    memory.add({12: (xs[2], 4), 13: (xs[3], 5)})  # over capacity: the oldest (10) leaves
    assert memory.keys() == {11, 12, 13}
    memory.remove([11, 99])
    assert memory.keys() == {12, 13}
    _, labels = memory.neighbours(xs[2:4])
    assert list(labels[:, 0]) == [4, 5]  # rows moved by the removal kept their labels
    memory.remove([12, 13])
    sims, _ = memory.neighbours(xs[:1])
    assert sims[0, 0] < 0.99  # only exemplars left


def test_blend_only_with_a_close_enough_neighbour() -> None:
    proba = np.array([[0.7, 0.3, 0.0], [0.7, 0.3, 0.0]], np.float32)
    sims = np.array([[0.9, 0.5], [0.5, 0.4]], np.float32)
    labels = np.array([[1, 0], [1, 1]], np.int16)
    params = BlendParams(k=2, temperature=0.05, alpha=0.5, threshold=0.6)
    mixed = blend(proba, sims, labels, params)
    assert mixed[0] == pytest.approx([0.35, 0.65, 0.0])  # one neighbour over the threshold
    assert mixed[1] == pytest.approx(proba[1])  # none: the head alone
    never = blend(proba, sims, np.array([[2, 2], [2, 2]], np.int16), params)
    assert never[0, 2] == 0.0  # a class the head never predicts stays at 0
    assert never[0] == pytest.approx(proba[0])


def test_exemplars_file_round_trip_is_deterministic(tmp_path: Path) -> None:
    xs, y = _clustered(300, 6)
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    build_exemplars("bb", xs, y, PARAMS, dims=16).save(one)
    build_exemplars("bb", xs, y, PARAMS, dims=16).save(two)
    assert one.read_bytes() == two.read_bytes()
    loaded = Exemplars.load(one)
    assert loaded.params == PARAMS and loaded.backbone == "bb"
    assert loaded.vectors.dtype == np.float16 and loaded.vectors.shape == (300, 16)


def test_shipped_model_has_its_memory(model_dir: Path) -> None:
    classifier = Classifier.load(model_dir)
    memory = classifier.memory
    assert memory is not None and memory.backbone == classifier.backbone_id
    card = classifier.model_card["memory"]
    assert card["exemplars"] == len(memory.exemplars.labels) == 7246 + 403
    assert BlendParams(**card["params"]) == memory.params
    assert (model_dir / EXEMPLARS_FILE).stat().st_size < 4_000_000
    figures = card["metrics"]
    waste, wild = figures["waste-v1/val"], figures["wild-v1/val"]
    assert waste["with_memory"]["n"] == 1574 and wild["with_memory"]["n"] == 419
    assert waste["with_memory"]["accuracy"] >= waste["head"]["accuracy"] + 0.01
    assert waste["with_memory"]["macro_f1"] >= waste["head"]["macro_f1"] + 0.01
    assert wild["with_memory"]["accuracy"] >= wild["head"]["accuracy"] + 0.015
    assert wild["with_memory"]["sure_wrong_share_of_all"] <= 0.015  # « sûr » stays honest


def test_memory_of_another_backbone_is_ignored(model_dir: Path, tmp_path: Path) -> None:
    for name in ("backbone.tflite", "head.npz", "model.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    without_second(tmp_path)
    shipped = Exemplars.load(model_dir / EXEMPLARS_FILE)
    replace(shipped, backbone="0" * 16).save(tmp_path / EXEMPLARS_FILE)
    assert Classifier.load(tmp_path).memory is None


def test_a_confirmed_photo_helps_the_next_similar_one(model_dir: Path, wild_dir: Path) -> None:
    """A real-world photo the model gets wrong (plastique), taught with its true label: the
    same photo sent again is then answered right."""
    classifier = Classifier.load(model_dir)
    path = wild_dir / "val" / "carton" / "4c04c3d3c707f0e4.jpg"
    assert classifier.classify_path(path).label != "carton"
    _, embedding = classifier.embed_path(path)
    assert classifier.memory is not None
    classifier.memory.add({1: (embedding, CLASSES.index("carton"))})
    assert classifier.classify_path(path).label == "carton"
    classifier.memory.remove([1])
    assert classifier.classify_path(path).label != "carton"


def test_capacity_is_kept_across_reloads(model_dir: Path) -> None:
    classifier = Classifier.load(model_dir, memory_capacity=2)
    xs, y = _clustered(3, 7, dims=1280)
    assert classifier.memory is not None
    classifier.memory.add({i: (xs[i], int(y[i])) for i in range(3)})
    assert classifier.memory.keys() == {1, 2}
    classifier.reload(model_dir)
    assert classifier.memory is not None and classifier.memory.capacity == 2
    none = Classifier.load(model_dir, memory_capacity=0).memory
    assert none is not None
    none.add({1: (xs[0], 1)})
    assert len(none) == 0
