"""Numpy softmax-regression head over backbone embeddings (no TensorFlow needed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

L2 = 1e-2  # chosen on waste-v1 val among 1e-3..1e-1
LABEL_SMOOTHING = 0.05


@dataclass(frozen=True)
class Head:
    """Linear head: ``logits = (((x - mean) / scale) @ W + b) / temperature``; masked classes
    get -inf."""

    W: np.ndarray  # [D, C] float32
    b: np.ndarray  # [C] float32
    mean: np.ndarray  # [D] float32
    scale: np.ndarray  # [D] float32
    trained: np.ndarray  # [C] bool, False = class never predicted
    temperature: float = 1.0
    """Calibration: above 1 the probabilities are less confident (same ranking)."""

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Logits [N, C] (untrained classes set to -inf)."""
        z = ((np.asarray(X, np.float32) - self.mean) / self.scale) @ self.W + self.b
        return np.where(self.trained, z / self.temperature, -np.inf).astype(np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities [N, C]; untrained classes have probability 0."""
        return softmax(self.logits(X))

    def save(self, path: Path) -> None:
        """Write ``head.npz``."""
        np.savez(
            path,
            W=self.W,
            b=self.b,
            mean=self.mean,
            scale=self.scale,
            trained=self.trained,
            temperature=np.float64(self.temperature),
        )

    def tempered(self, temperature: float) -> Head:
        """This head with its probabilities calibrated by ``temperature``."""
        return replace(self, temperature=float(temperature))

    def masking(self, classes: Sequence[str], untrained: Iterable[str]) -> Head:
        """This head with the ``untrained`` classes (names, ``classes`` order) never predicted."""
        names = set(untrained)
        return replace(self, trained=self.trained & np.array([c not in names for c in classes]))

    @classmethod
    def load(cls, path: Path) -> Head:
        """Read a ``head.npz`` written by :meth:`save`."""
        with np.load(path) as z:
            return cls(
                W=z["W"].astype(np.float32),
                b=z["b"].astype(np.float32),
                mean=z["mean"].astype(np.float32),
                scale=z["scale"].astype(np.float32),
                trained=z["trained"].astype(bool),
                temperature=float(z["temperature"]) if "temperature" in z.files else 1.0,
            )


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax that tolerates -inf entries."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), np.float32)


def balanced_class_weight(
    y: np.ndarray, num_classes: int, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """``n / (k * count_c)`` for present classes, 0 for absent ones; with ``sample_weight``
    the counts are weighted, so that weighting samples moves weight within a class, never
    between classes."""
    counts = np.bincount(y, weights=sample_weight, minlength=num_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w


def train_head(
    X: np.ndarray,
    y: np.ndarray,
    class_weight: np.ndarray,
    trained: np.ndarray | None = None,
    l2: float = L2,
    label_smoothing: float = LABEL_SMOOTHING,
    iters: int = 600,
    lr: float = 0.05,
    sample_weight: np.ndarray | None = None,
) -> Head:
    """Fit a class-weighted, L2-regularised softmax regression with full-batch Adam.

    ``X`` [N, D] embeddings, ``y`` [N] int labels, ``class_weight`` [C]; samples of
    classes with ``trained[c] == False`` are ignored. Deterministic (zero init).
    """
    num_classes = len(class_weight)
    trained = np.ones(num_classes, bool) if trained is None else np.asarray(trained, bool)
    keep = trained[y]
    X, y = np.asarray(X, np.float32)[keep], np.asarray(y)[keep]
    extra = np.ones(len(keep)) if sample_weight is None else np.asarray(sample_weight)
    per_sample = class_weight[y] * extra[keep]
    mean = X.mean(axis=0)
    scale = X.std(axis=0) + 1e-3
    Xs = (X - mean) / scale
    n, d = Xs.shape
    target = np.full((n, num_classes), label_smoothing / trained.sum(), np.float32)
    target[:, ~trained] = 0.0
    target[np.arange(n), y] += 1.0 - label_smoothing
    sw = (per_sample / per_sample.sum()).astype(np.float32)[:, None]
    mask = np.where(trained, 0.0, -np.inf).astype(np.float32)
    params = [np.zeros((d, num_classes), np.float32), np.zeros(num_classes, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2 = 0.9, 0.999
    for t in range(1, iters + 1):
        W, b = params
        g = (softmax(Xs @ W + b + mask) - target) * sw
        grads = [Xs.T @ g + l2 * W, g.sum(axis=0)]
        step = lr * 0.5 * (1 + np.cos(np.pi * (t - 1) / iters))
        for i, grad in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * grad
            v[i] = b2 * v[i] + (1 - b2) * grad * grad
            params[i] -= step * (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + 1e-8)
    W, b = params
    W[:, ~trained] = 0.0
    b[~trained] = 0.0
    return Head(
        W=W,
        b=b,
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        trained=trained.copy(),
    )
