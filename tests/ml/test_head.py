"""Numpy head training and metrics on synthetic embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.head import Head, balanced_class_weight, train_head
from ml.metrics import compute_metrics


def _blobs(n_per_class: int, num_classes: int = 5, dim: int = 32) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (num_classes, dim))
    y = np.repeat(np.arange(num_classes), n_per_class)
    x = (centres[y] + rng.normal(0, 1, (len(y), dim))).astype(np.float32)
    return x, y


def test_head_learns_and_masks_untrained(tmp_path: Path) -> None:
    x, y = _blobs(40)
    trained = np.array([True, True, False, True, True])
    head = train_head(x, y, balanced_class_weight(y, 5), trained, iters=200)
    proba = head.predict_proba(x)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba[:, 2] == 0).all()
    pred = proba.argmax(axis=1)
    assert 2 not in pred
    assert (pred[y != 2] == y[y != 2]).mean() > 0.95
    head.save(tmp_path / "head.npz")
    again = Head.load(tmp_path / "head.npz")
    np.testing.assert_array_equal(again.predict_proba(x), proba)


def test_head_is_deterministic() -> None:
    x, y = _blobs(10)
    w = balanced_class_weight(y, 5)
    a, b = train_head(x, y, w, iters=50), train_head(x, y, w, iters=50)
    np.testing.assert_array_equal(a.W, b.W)


def test_balanced_class_weight() -> None:
    w = balanced_class_weight(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(w, [4 / 6, 2.0, 0.0])


def test_metrics() -> None:
    m = compute_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3)
    assert m.accuracy == 0.75
    assert m.recall[:2] == [0.5, 1.0]
    assert m.precision[:2] == [1.0, 0.6667]
    assert m.support == [2, 2, 0]
    assert m.confusion == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert abs(m.macro_f1 - (2 / 3 + 0.8) / 2) < 1e-9


def test_temperature_keeps_the_ranking_lowers_confidence_and_is_saved(tmp_path: Path) -> None:
    x, y = _blobs(40)
    head = train_head(x, y, balanced_class_weight(y, 5), iters=200)
    tempered = head.tempered(2.0)
    sharp, soft = head.predict_proba(x), tempered.predict_proba(x)
    np.testing.assert_array_equal(sharp.argmax(1), soft.argmax(1))
    assert (soft.max(1) <= sharp.max(1) + 1e-6).all() and soft.max(1).mean() < sharp.max(1).mean()
    tempered.save(tmp_path / "head.npz")
    assert Head.load(tmp_path / "head.npz").temperature == 2.0
    np.testing.assert_array_equal(Head.load(tmp_path / "head.npz").predict_proba(x), soft)


def test_a_head_saved_without_temperature_loads_at_one(tmp_path: Path) -> None:
    """Heads written before calibration existed answer exactly as before."""
    x, y = _blobs(10)
    head = train_head(x, y, balanced_class_weight(y, 5), iters=50)
    np.savez(
        tmp_path / "old.npz",
        W=head.W,
        b=head.b,
        mean=head.mean,
        scale=head.scale,
        trained=head.trained,
    )
    old = Head.load(tmp_path / "old.npz")
    assert old.temperature == 1.0
    np.testing.assert_array_equal(old.predict_proba(x), head.predict_proba(x))
