"""Distillation targets: the teacher's answers on training views, mixed with the labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from db.categories import CLASSES
from ml.classifier import Classifier
from ml.image_io import decode_path
from ml.preprocess import preprocess
from ml.retrain import TRAINED
from ml.teacher import Teacher, soft_targets
from tests.model_folders import without_second


def test_teacher_gives_the_models_answer_over_trained_classes(
    model_dir: Path, wild_dir: Path
) -> None:
    paths = (
        sorted((wild_dir / "val" / "carton").iterdir())[:3]
        + sorted((wild_dir / "val" / "metal").iterdir())[:3]
    )
    images = np.stack([preprocess(decode_path(p)) for p in paths])
    proba = Teacher([model_dir])(images)
    assert proba.shape == (6, int(TRAINED.sum()))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    trained = [c for c, t in zip(CLASSES, TRAINED, strict=True) if t]
    classifier = Classifier.load(model_dir)
    for image, row in zip(images, proba, strict=True):
        assert trained[int(row.argmax())] == CLASSES[int(classifier.probabilities(image).argmax())]
    np.testing.assert_allclose(Teacher([model_dir, model_dir])(images), proba, atol=1e-6)


def test_soft_targets_mix_label_and_teacher() -> None:
    labels = np.array([0, 2])
    teacher = np.array([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0]], np.float32)
    np.testing.assert_array_equal(soft_targets(labels, None, 0.5, 3), np.eye(3)[[0, 2]])
    mixed = soft_targets(labels, teacher, 0.25, 3)
    np.testing.assert_allclose(mixed, [[0.8, 0.2, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)


def test_teacher_with_other_classes_is_refused(model_dir: Path, tmp_path: Path) -> None:
    for name in ("backbone.tflite", "head.npz", "model.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    without_second(tmp_path)
    card = (tmp_path / "model.json").read_text().replace('"autre"', '"divers"')
    (tmp_path / "model.json").write_text(card)
    with pytest.raises(ValueError, match="classes differ"):
        Teacher([model_dir, tmp_path])
