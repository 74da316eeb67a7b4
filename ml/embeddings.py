"""TFLite backbone runner and an on-disk embedding cache (no TensorFlow needed)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def file_sha256(path: Path, length: int = 64) -> str:
    """Hex SHA-256 of a file (optionally truncated)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:length]


def backbone_id(tflite_path: Path) -> str:
    """Identity of a backbone file: first 16 hex digits of its SHA-256."""
    return file_sha256(tflite_path, 16)


class Backbone:
    """A TFLite backbone: float32 [1, 224, 224, 3] in 0-255 -> [1280] embedding.

    Not thread-safe: use one instance per thread.
    """

    def __init__(self, tflite_path: Path, num_threads: int = 1) -> None:
        self.path = Path(tflite_path)
        self.id = backbone_id(self.path)
        self._interp = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        self._output = self._interp.get_output_details()[0]["index"]

    def embed(self, image: np.ndarray) -> np.ndarray:
        """One uint8/float [224, 224, 3] image -> float32 [1280]."""
        self._interp.set_tensor(self._input, np.asarray(image, np.float32)[None])
        self._interp.invoke()
        return np.array(self._interp.get_tensor(self._output)[0], np.float32)


class EmbeddingCache:
    """Embeddings stored per (backbone id, view) in ``root/<backbone>/<view>.npz``,
    keyed by the SHA-256 of the image file."""

    def __init__(self, root: Path, backbone: str) -> None:
        self.dir = Path(root) / backbone
        self.dir.mkdir(parents=True, exist_ok=True)

    def _file(self, view: str) -> Path:
        return self.dir / f"{view}.npz"

    def load(self, view: str) -> dict[str, np.ndarray]:
        """All cached embeddings of a view as ``{sha256: vector}``."""
        path = self._file(view)
        if not path.exists():
            return {}
        with np.load(path) as z:
            return dict(zip(z["keys"].tolist(), z["emb"], strict=True))

    def save(self, view: str, table: dict[str, np.ndarray]) -> None:
        """Atomically replace the cache file of a view."""
        keys = sorted(table)
        tmp = self._file(view).with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), emb=np.stack([table[k] for k in keys]))
        tmp.replace(self._file(view))

    def get_or_compute(
        self,
        view: str,
        paths: list[Path],
        compute: Callable[[list[Path]], np.ndarray],
        chunk: int | None = None,
    ) -> np.ndarray:
        """Embeddings [N, D] for ``paths``, computing (and caching) the missing ones.

        With ``chunk``, the missing files are computed ``chunk`` at a time and the cache is
        written after each chunk, so an interrupted run keeps its progress.
        """
        keys = [file_sha256(p) for p in paths]
        table = self.load(view)
        missing = [i for i, k in enumerate(keys) if k not in table]
        step = chunk or len(missing) or 1
        for start in range(0, len(missing), step):
            part = missing[start : start + step]
            new = compute([paths[i] for i in part])
            table.update({keys[i]: new[j] for j, i in enumerate(part)})
            self.save(view, table)
        return np.stack([table[k] for k in keys])
