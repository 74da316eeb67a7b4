"""Nearest-neighbour memory over backbone embeddings, blended into the head's probabilities.

The memory holds the shipped exemplars (the train splits the head was fitted on, in
``exemplars.npz`` next to the model) and the confirmed photos of consenting users, added
while the bot runs. Embeddings are projected (PCA, fitted on the exemplars) to 128
dimensions and L2-normalised; a query pre-selects candidates on the leading components and
ranks them on all. The
``k`` nearest entries whose cosine similarity reaches ``threshold`` vote with weights
``softmax((cos - 1) / temperature)``; their vote is mixed into the head's probabilities
with weight ``alpha``. Without such a neighbour the head's answer is left as it is.

Thread-safe: mutations and queries take one lock (a query over 100,000 entries takes
about 1.7 ms, BENCHMARKS.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

EXEMPLARS_FILE = "exemplars.npz"
MAX_USER_ENTRIES = 20_000
"""Users' entries a process keeps by default (the newest ones; ``DUMPIN_MEMORY_MAX_ENTRIES``):
the bot then stays under 300 MB (+26 MB; 50,000 take +42 MB, BENCHMARKS.md)."""
COARSE_DIMS = 32
"""Leading principal components that pre-select candidates (float32, 12.8 MB at 100,000)."""
ADD_BATCH = 256
"""Entries projected together (small temporaries keep the process's RSS down)."""
CANDIDATES = 512
"""Entries pre-selected per query, then ranked on every dimension (float16 vectors)."""


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
    vote = np.zeros_like(proba, dtype=np.float64)
    rows = np.repeat(np.arange(len(proba)), labels.shape[1])
    np.add.at(vote, (rows, labels.reshape(-1).clip(min=0)), w.reshape(-1))
    vote *= proba > 0
    votes = vote.sum(axis=1, keepdims=True)
    vote /= np.maximum(votes, 1e-30)
    mixed = np.where(votes > 0, (1 - params.alpha) * proba + params.alpha * vote, proba)
    return np.asarray(mixed, np.float32)


class Memory:
    """Exemplars plus users' entries, queried by cosine similarity.

    Users' entries are keyed by an increasing integer (their row id in the database): past
    the capacity, the smallest key, the oldest entry, leaves.
    """

    def __init__(self, exemplars: Exemplars, capacity: int = MAX_USER_ENTRIES) -> None:
        self.exemplars = exemplars
        self.params = exemplars.params
        self.capacity = capacity
        self._lock = threading.Lock()
        self._base = self._size = len(exemplars.labels)
        self._vectors = np.zeros((0, exemplars.projection.dims), np.float16)
        self._coarse = np.zeros((0, COARSE_DIMS), np.float32)
        self._labels = np.zeros(0, np.int16)
        self._keys = np.zeros(0, np.int64)
        self._grow(self._base + min(1024, capacity))
        self._vectors[: self._base] = exemplars.vectors
        self._coarse[: self._base] = exemplars.vectors[:, :COARSE_DIMS]
        self._labels[: self._base] = exemplars.labels
        self._rows: dict[int, int] = {}

    @property
    def backbone(self) -> str:
        """Id of the backbone whose embeddings this memory holds."""
        return self.exemplars.backbone

    def __len__(self) -> int:
        """Users' entries held."""
        return len(self._rows)

    def keys(self) -> set[int]:
        """Keys of the users' entries."""
        with self._lock:
            return set(self._rows)

    def add(self, entries: Mapping[int, tuple[np.ndarray, int]]) -> None:
        """Add or replace users' entries ``{key: (embedding [D], label)}``; past the
        capacity the oldest entries leave."""
        keys = list(entries) if self.capacity > 0 else []
        for start in range(0, len(keys), ADD_BATCH):
            part = keys[start : start + ADD_BATCH]
            Z = self.exemplars.projection(np.stack([entries[k][0] for k in part]))
            self._add_locked(part, Z, [entries[k][1] for k in part])

    def _add_locked(self, keys: list[int], Z: np.ndarray, labels: list[int]) -> None:
        with self._lock:
            for key, z, label in zip(keys, Z, labels, strict=True):
                row = self._rows.get(key)
                if row is None:
                    if len(self._rows) >= self.capacity:
                        oldest = int(self._keys[self._base : self._size].min())
                        self._remove_locked(oldest)
                    if self._size == len(self._labels):
                        self._grow(min(2 * self._size, self._base + self.capacity))
                    row = self._size
                    self._size += 1
                self._vectors[row] = z
                self._coarse[row] = z[:COARSE_DIMS]
                self._labels[row] = label
                self._keys[row] = key
                self._rows[key] = row

    def _grow(self, rows: int) -> None:
        """Room for ``rows`` entries in all (new pages are only touched when written)."""
        for name in ("_vectors", "_coarse", "_labels", "_keys"):
            old = getattr(self, name)
            new = np.zeros((rows, *old.shape[1:]), old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def remove(self, keys: Iterable[int]) -> None:
        """Drop users' entries (unknown keys are ignored)."""
        with self._lock:
            for key in keys:
                if key in self._rows:
                    self._remove_locked(key)

    def _remove_locked(self, key: int) -> None:
        row = self._rows.pop(key)
        last = self._size - 1
        if row != last:
            moved = int(self._keys[last])
            self._vectors[row] = self._vectors[last]
            self._coarse[row] = self._coarse[last]
            self._labels[row] = self._labels[last]
            self._keys[row] = moved
            self._rows[moved] = row
        self._size = last

    def neighbours(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarities [N, k] and labels [N, k] of the ``k`` nearest entries of each
        embedding in ``X`` [N, D], best first (NaN / -1 when the memory holds fewer).

        Two stages: the first :data:`COARSE_DIMS` principal components pick
        :data:`CANDIDATES` entries, which are ranked on all dimensions (exact when the memory
        holds no more entries than that)."""
        Q = self.exemplars.projection(X)
        k = self.params.k
        sims = np.full((len(Q), k), np.nan, np.float32)
        labels = np.full((len(Q), k), -1, np.int16)
        with self._lock:
            n = self._size
            for i, q in enumerate(Q):
                if n > CANDIDATES:
                    coarse = self._coarse[:n] @ q[:COARSE_DIMS]
                    cand = np.argpartition(coarse, n - CANDIDATES)[n - CANDIDATES :]
                else:
                    cand = np.arange(n)
                s = self._vectors[cand].astype(np.float32) @ q
                kk = min(k, len(s))
                if kk == 0:
                    continue
                best = np.argpartition(s, len(s) - kk)[len(s) - kk :]
                best = best[np.argsort(-s[best], kind="stable")]
                sims[i, :kk] = s[best]
                labels[i, :kk] = self._labels[cand[best]]
        return sims, labels

    def voter(self, X: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Blends probabilities [N, C] of embeddings ``X`` [N, D] with the memory's vote; the
        neighbours are found once, however many probabilities of these photos it blends."""
        sims, labels = self.neighbours(X)
        return lambda proba: blend(proba, sims, labels, self.params)

    def blend(self, proba: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The head's probabilities [N, C] of embeddings ``X`` [N, D], with the memory's vote."""
        return self.voter(X)(proba)

    def card(self) -> dict[str, Any]:
        """What the model card says about the memory."""
        return {
            "exemplars": self._base,
            "dims": self.exemplars.projection.dims,
            **self.params.to_dict(),
        }
