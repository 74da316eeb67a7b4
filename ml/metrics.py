"""Classification metrics (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Accuracy, macro-F1 over present classes, per-class P/R/support and confusion."""

    n: int
    accuracy: float
    macro_f1: float
    precision: list[float]
    recall: list[float]
    support: list[int]
    confusion: list[list[int]]  # rows = true class, columns = predicted class
    log_loss: float | None = None
    """Mean of -ln(probability given to the true class), when probabilities were scored."""


MIN_PROBABILITY = 1e-6
"""Probabilities are clipped here for the log loss (one sure mistake costs at most 13.8)."""


def compute_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, proba: np.ndarray | None = None
) -> Metrics:
    """Metrics for integer labels; macro-F1 averages classes with val support > 0; the log
    loss too when the class probabilities ``proba`` [N, C] are given."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    return Metrics(
        n=len(y_true),
        accuracy=float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        precision=[round(float(p), 4) for p in precision],
        recall=[round(float(r), 4) for r in recall],
        support=[int(s) for s in support],
        confusion=cm.tolist(),
        log_loss=None if proba is None else log_loss(y_true, proba),
    )


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean of -ln(probability of the true class), 0.0 for no rows."""
    if not len(y_true):
        return 0.0
    p = np.asarray(proba, np.float64)[np.arange(len(y_true)), np.asarray(y_true, int)]
    return float(-np.log(np.maximum(p, MIN_PROBABILITY)).mean())
