"""Evaluate a :class:`~ml.classifier.Classifier` on a labelled image folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from db.categories import CLASSES
from ml.classifier import Classifier
from ml.dataset import Sample, list_split
from ml.image_io import UnsupportedImage
from ml.metrics import compute_metrics


@dataclass(frozen=True)
class EvalReport:
    """Results over the readable images; ``skipped`` lists unreadable files."""

    n: int
    accuracy: float
    macro_f1: float
    classes: list[str]
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    model_version: str
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)


def labelled_samples(data_dir: Path) -> list[Sample]:
    """Samples of ``data_dir/<class>/`` or, for a dataset root, of ``data_dir/val/``."""
    data_dir = Path(data_dir)
    if any((data_dir / c).is_dir() for c in CLASSES):
        return list_split(data_dir.parent, data_dir.name)
    return list_split(data_dir, "val")


def evaluate(
    classifier: Classifier, data_dir: Path, progress: Callable[[int, int], None] | None = None
) -> EvalReport:
    """Classify every labelled image; ``progress(done, total)`` is called per image."""
    samples = labelled_samples(data_dir)
    y_true: list[int] = []
    y_pred: list[int] = []
    skipped: list[str] = []
    for i, sample in enumerate(samples, 1):
        try:
            label = classifier.classify_path(sample.path).label
        except UnsupportedImage:
            skipped.append(str(sample.path))
        else:
            y_true.append(sample.label)
            y_pred.append(CLASSES.index(label))
        if progress is not None:
            progress(i, len(samples))
    m = compute_metrics(np.array(y_true, int), np.array(y_pred, int), len(CLASSES))
    per_class = {
        c: {"precision": m.precision[i], "recall": m.recall[i], "support": m.support[i]}
        for i, c in enumerate(CLASSES)
    }
    return EvalReport(
        n=m.n,
        accuracy=round(m.accuracy, 4),
        macro_f1=round(m.macro_f1, 4),
        classes=list(CLASSES),
        per_class=per_class,
        confusion=m.confusion,
        model_version=classifier.version,
        skipped=skipped,
    )
