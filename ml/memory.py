"""Nearest-neighbour memory over backbone embeddings, blended into the head's probabilities.

The memory holds the shipped exemplars (the train splits the head was fitted on, in
``exemplars.npz`` next to the model) and the confirmed photos of consenting users, added
while the bot runs. Embeddings are projected (PCA, fitted on the exemplars) to a few dozen
dimensions and L2-normalised, so that a query is one small matrix-vector product. The
``k`` nearest entries whose cosine similarity reaches ``threshold`` vote with weights
``softmax((cos - 1) / temperature)``; their vote is mixed into the head's probabilities
with weight ``alpha``. Without such a neighbour the head's answer is left as it is.

Thread-safe: mutations and queries take one lock (a query over 100,000 entries takes
about a millisecond).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

EXEMPLARS_FILE = "exemplars.npz"
MAX_USER_ENTRIES = 100_000
"""Users' entries kept at most (the oldest ones leave first): 38 MB at 128 dimensions."""
COARSE_DIMS = 32
"""Leading principal components that pre-select candidates (float32, 12.8 MB at 100,000)."""
CANDIDATES = 512
"""Entries pre-selected per query, then ranked on every dimension (float16 vectors)."""
QUERY_BATCH = 64
"""Queries ranked together (bounds the temporary candidate arrays)."""


@dataclass(frozen=True)
class BlendParams:
    """How neighbours vote and how much their vote weighs."""

    k: int
    temperature: float
    alpha: float
    threshold: float

    def to_dict(self) -> dict[str, float]:
        """JSON-serialisable form."""
        return asdict(self)


@dataclass(frozen=True)
class Projection:
    """``normalise((x - mean) @ components)``: backbone space -> memory space."""

    mean: np.ndarray  # [D] float32
    components: np.ndarray  # [D, d] float32

    @classmethod
    def fit(cls, X: np.ndarray, dims: int) -> Projection:
        """PCA of ``X`` [N, D] to ``dims`` dimensions (deterministic: each component's
        largest coefficient is positive)."""
        X = np.asarray(X, np.float64)
        mean = X.mean(axis=0)
        _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
        comps = vt[:dims]
        signs = np.sign(comps[np.arange(dims), np.abs(comps).argmax(axis=1)])
        return cls(mean.astype(np.float32), (comps * signs[:, None]).T.astype(np.float32))

    @property
    def dims(self) -> int:
        """Dimensions of the memory space."""
        return int(self.components.shape[1])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Projected, unit-length rows [N, d] float32 of embeddings [N, D]."""
        Z = (np.asarray(X, np.float32) - self.mean) @ self.components
        return np.asarray(Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12))


@dataclass(frozen=True)
class Exemplars:
    """The shipped part of the memory: projection, vectors, labels and blend settings."""

    backbone: str
    projection: Projection
    vectors: np.ndarray  # [N, d] float16, unit length
    labels: np.ndarray  # [N] int16
    params: BlendParams

    def save(self, path: Path) -> None:
        """Write ``exemplars.npz`` (byte-identical for identical inputs)."""
        with Path(path).open("wb") as fh:
            np.savez_compressed(
                fh,
                backbone=np.array(self.backbone),
                mean=self.projection.mean,
                components=self.projection.components,
                vectors=self.vectors,
                labels=self.labels,
                params=np.array([getattr(self.params, f) for f in _PARAM_FIELDS], np.float64),
            )

    @classmethod
    def load(cls, path: Path) -> Exemplars:
        """Read a file written by :meth:`save`."""
        with np.load(path) as z:
            values = dict(zip(_PARAM_FIELDS, z["params"].tolist(), strict=True))
            return cls(
                backbone=str(z["backbone"]),
                projection=Projection(z["mean"], z["components"]),
                vectors=z["vectors"],
                labels=z["labels"].astype(np.int16),
                params=BlendParams(
                    k=int(values["k"]),
                    temperature=values["temperature"],
                    alpha=values["alpha"],
                    threshold=values["threshold"],
                ),
            )


_PARAM_FIELDS = ("k", "temperature", "alpha", "threshold")


def build_exemplars(
    backbone: str, X: np.ndarray, y: np.ndarray, params: BlendParams, dims: int
) -> Exemplars:
    """Exemplars from embeddings ``X`` [N, D] with int labels ``y`` (rows with NaN dropped)."""
    keep = ~np.isnan(X).any(axis=1)
    X, y = np.asarray(X)[keep], np.asarray(y)[keep]
    projection = Projection.fit(X, dims)
    return Exemplars(
        backbone, projection, projection(X).astype(np.float16), y.astype(np.int16), params
    )


def blend(
    proba: np.ndarray,
    sims: np.ndarray,
    labels: np.ndarray,
    params: BlendParams,
) -> np.ndarray:
    """Mix the neighbours' vote into ``proba`` [N, C].

    ``sims`` [N, k] are the cosine similarities of each row's nearest entries (best first,
    NaN for none) and ``labels`` [N, k] their classes. Rows without a neighbour at or over
    the threshold keep the head's probabilities; classes the head never predicts (probability
    0) stay at 0.
    """
    close = np.nan_to_num(sims, nan=-np.inf) >= params.threshold
    logits = np.where(close, (np.nan_to_num(sims, nan=0.0) - 1.0) / params.temperature, -np.inf)
    best = logits.max(axis=1, keepdims=True)
    w = np.exp(logits - np.where(np.isfinite(best), best, 0.0))
    total = w.sum(axis=1, keepdims=True)
    vote = np.zeros_like(proba, dtype=np.float64)
    rows = np.repeat(np.arange(len(proba)), labels.shape[1])
    np.add.at(vote, (rows, labels.reshape(-1).clip(min=0)), w.reshape(-1))
    vote = np.where(total > 0, vote / np.maximum(total, 1e-30), 0.0) * (proba > 0)
    vote /= np.maximum(vote.sum(axis=1, keepdims=True), 1e-30)
    mixed = np.where(total > 0, (1 - params.alpha) * proba + params.alpha * vote, proba)
    return np.asarray(mixed, np.float32)


class Memory:
    """Exemplars plus users' entries (keyed, bounded), queried by cosine similarity."""

    def __init__(self, exemplars: Exemplars, capacity: int = MAX_USER_ENTRIES) -> None:
        self.exemplars = exemplars
        self.params = exemplars.params
        self.capacity = capacity
        self._lock = threading.Lock()
        base = len(exemplars.labels)
        self._base = base
        rows = base + 1024
        self._vectors = np.zeros((rows, exemplars.projection.dims), np.float16)
        self._vectors[:base] = exemplars.vectors
        self._coarse = np.zeros((rows, COARSE_DIMS), np.float32)
        self._coarse[:base] = exemplars.vectors[:, :COARSE_DIMS]
        self._labels = np.full(rows, -1, np.int16)
        self._labels[:base] = exemplars.labels
        self._rows: OrderedDict[str, int] = OrderedDict()
        self._keys: dict[int, str] = {}
        self._size = base

    @property
    def backbone(self) -> str:
        """Id of the backbone whose embeddings this memory holds."""
        return self.exemplars.backbone

    def __len__(self) -> int:
        """Users' entries held."""
        return len(self._rows)

    def keys(self) -> set[str]:
        """Keys of the users' entries."""
        with self._lock:
            return set(self._rows)

    def add(self, entries: Mapping[str, tuple[np.ndarray, int]]) -> None:
        """Add or replace users' entries ``{key: (embedding [D], label)}``; past the
        capacity the oldest entries leave."""
        if not entries:
            return
        keys = list(entries)
        Z = self.exemplars.projection(np.stack([entries[k][0] for k in keys]))
        with self._lock:
            for key, z in zip(keys, Z, strict=True):
                row = self._rows.pop(key, None)
                if row is None:
                    if len(self._rows) >= self.capacity:
                        self._remove_locked(next(iter(self._rows)))
                    row = self._append_row()
                self._vectors[row] = z
                self._coarse[row] = z[:COARSE_DIMS]
                self._labels[row] = entries[key][1]
                self._rows[key] = row
                self._keys[row] = key

    def _append_row(self) -> int:
        if self._size == len(self._vectors):
            grown = max(len(self._vectors) * 2, self._base + 1024)
            self._vectors = np.resize(self._vectors, (grown, self._vectors.shape[1]))
            self._coarse = np.resize(self._coarse, (grown, COARSE_DIMS))
            self._labels = np.resize(self._labels, grown)
        self._size += 1
        return self._size - 1

    def remove(self, keys: Iterable[str]) -> None:
        """Drop users' entries (unknown keys are ignored)."""
        with self._lock:
            for key in keys:
                if key in self._rows:
                    self._remove_locked(key)

    def _remove_locked(self, key: str) -> None:
        row = self._rows.pop(key)
        last = self._size - 1
        if row != last:
            moved = self._keys[last]
            self._vectors[row] = self._vectors[last]
            self._coarse[row] = self._coarse[last]
            self._labels[row] = self._labels[last]
            self._rows[moved] = row  # an existing key keeps its place in the eviction order
            self._keys[row] = moved
        del self._keys[last]
        self._labels[last] = -1
        self._size = last

    def neighbours(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarities [N, k] and labels [N, k] of the ``k`` nearest entries of each
        embedding in ``X`` [N, D], best first (NaN / -1 when the memory holds fewer).

        Two stages: the first :data:`COARSE_DIMS` principal components pick
        :data:`CANDIDATES` entries, which are ranked on all dimensions (exact when the memory
        holds no more entries than that)."""
        Q = self.exemplars.projection(X)
        sims = np.full((len(Q), self.params.k), np.nan, np.float32)
        labels = np.full((len(Q), self.params.k), -1, np.int16)
        with self._lock:
            for start in range(0, len(Q), QUERY_BATCH):
                part = slice(start, start + QUERY_BATCH)
                sims[part], labels[part] = self._nearest_locked(Q[part])
        return sims, labels

    def _nearest_locked(self, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, k = self._size, self.params.k
        sims = np.full((len(Q), k), np.nan, np.float32)
        labels = np.full((len(Q), k), -1, np.int16)
        if n == 0:
            return sims, labels
        if n > CANDIDATES:
            coarse = Q[:, :COARSE_DIMS] @ self._coarse[:n].T
            cand = np.argpartition(-coarse, CANDIDATES - 1, axis=1)[:, :CANDIDATES]
        else:
            cand = np.broadcast_to(np.arange(n), (len(Q), n))
        S = np.einsum("qcd,qd->qc", self._vectors[cand].astype(np.float32), Q)
        kk = min(k, S.shape[1])
        best = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
        top = np.take_along_axis(S, best, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        sims[:, :kk] = np.take_along_axis(top, order, axis=1)
        labels[:, :kk] = self._labels[np.take_along_axis(cand, best, axis=1)]
        return sims, labels

    def blend(self, proba: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The head's probabilities [N, C] of embeddings ``X`` [N, D], with the memory's vote."""
        sims, labels = self.neighbours(X)
        return blend(proba, sims, labels, self.params)

    def card(self) -> dict[str, Any]:
        """What the model card says about the memory."""
        return {
            "exemplars": self._base,
            "dims": self.exemplars.projection.dims,
            **self.params.to_dict(),
        }
