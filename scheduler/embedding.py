"""Backbone embeddings of image files, cached on disk by SHA-256 (``ml.embeddings``)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from bot.errors import DumpinError
from ml.embeddings import Backbone, EmbeddingCache
from ml.image_io import UnsupportedImage, decode_path
from ml.preprocess import INPUT_SIZE, preprocess

VIEW = "plain"
"""The runtime preprocessing; the same cache view name as ``ml.train``."""
CHUNK = 2000
"""Files embedded between two cache writes (an interrupted run keeps its progress)."""


class Stopped(DumpinError):
    """The job was asked to stop (SIGTERM) between two steps."""


def embed_files(
    tflite: Path, cache_root: Path, paths: list[Path], stop: threading.Event | None = None
) -> np.ndarray:
    """Embeddings [N, D] of ``paths``; unreadable images give a row of NaN."""
    backbone = Backbone(tflite, num_threads=2)
    cache = EmbeddingCache(cache_root, backbone.id)
    blank = np.full_like(backbone.embed(np.zeros((INPUT_SIZE, INPUT_SIZE, 3))), np.nan)

    def compute(missing: list[Path]) -> np.ndarray:
        rows = []
        for path in missing:
            if stop is not None and stop.is_set():
                raise Stopped("stopped while computing embeddings")
            try:
                rows.append(backbone.embed(preprocess(decode_path(path))))
            except UnsupportedImage:
                rows.append(blank)
        return np.stack(rows)

    parts = [
        cache.get_or_compute(VIEW, paths[start : start + CHUNK], compute)
        for start in range(0, len(paths), CHUNK)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, blank.shape[0]), np.float32)
