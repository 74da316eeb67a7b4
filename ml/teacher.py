"""Soft targets from a trained model for knowledge distillation during fine-tuning."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from db.categories import CLASSES
from ml.classifier import Classifier
from ml.retrain import TRAINED


class Teacher:
    """The mean answer (head blended with memory) of one or more model folders over the
    trained classes, for a batch of preprocessed uint8 images [N, 224, 224, 3]."""

    def __init__(self, model_dirs: Sequence[Path]) -> None:
        if not model_dirs:
            raise ValueError("a teacher needs at least one model folder")
        self.classifiers = [Classifier.load(Path(d)) for d in model_dirs]
        for model_dir, classifier in zip(model_dirs, self.classifiers, strict=True):
            if classifier.classes != CLASSES:
                raise ValueError(f"{model_dir}: the teacher's classes differ from the student's")
        self.versions = [c.version for c in self.classifiers]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Probabilities [N, trained classes], each row summing to 1."""
        answers = [[c.probabilities(im) for im in images] for c in self.classifiers]
        proba = np.mean(answers, axis=0)[:, TRAINED]
        return np.asarray(proba / proba.sum(axis=1, keepdims=True), np.float32)


def soft_targets(
    labels: np.ndarray, teacher: np.ndarray | None, weight: float, classes: int
) -> np.ndarray:
    """One-hot ``labels`` [N] over ``classes``, mixed with the teacher's probabilities:
    ``(1 - weight) * one_hot + weight * teacher`` (one-hot alone without a teacher)."""
    one_hot: np.ndarray = np.eye(classes, dtype=np.float32)[labels]
    if teacher is None:
        return one_hot
    return np.asarray((1.0 - weight) * one_hot + weight * teacher, np.float32)
