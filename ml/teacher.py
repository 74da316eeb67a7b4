"""Soft targets from a trained model for knowledge distillation during fine-tuning."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from db.categories import CLASSES
from ml.classifier import Classifier
from ml.retrain import TRAINED


class Teacher:
    """A model folder's answers (head blended with its memory) over the trained classes,
    for a batch of preprocessed uint8 images [N, 224, 224, 3]."""

    def __init__(self, model_dir: Path) -> None:
        self.classifier = Classifier.load(Path(model_dir))
        if self.classifier.classes != CLASSES:
            raise ValueError(f"{model_dir}: the teacher's classes differ from the student's")
        self.version = self.classifier.version

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Probabilities [N, trained classes], each row summing to 1."""
        proba = np.stack([self.classifier.probabilities(im) for im in images])[:, TRAINED]
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
