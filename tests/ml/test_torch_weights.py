"""The restricted torch checkpoint reader (no torch needed)."""

from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from ml.torch_weights import load_state_dict

_MAGIC = 0x1950A86A20F9469CFC6C


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("true",))


def _legacy_file(path: Path, state: object) -> Path:
    with path.open("wb") as fh:
        for obj in (_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}, state, []):
            pickle.dump(obj, fh, protocol=2)
    return path


def test_rejects_unexpected_globals(tmp_path: Path) -> None:
    path = _legacy_file(tmp_path / "evil.pth", collections.OrderedDict(x=_Evil()))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_state_dict(path)


def test_rejects_non_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(pickle.dumps(123))
    with pytest.raises(ValueError, match="not a torch checkpoint"):
        load_state_dict(path)


def test_reads_legacy_storage_layout(tmp_path: Path) -> None:
    # Hand-written legacy checkpoint: one FloatStorage "0" viewed as a 2x3 tensor, and
    # a transposed view (stride (1, 2)) of the same storage at offset 0.
    data = np.arange(6, dtype="<f4")
    proto = (
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01("
        b"X\x01\x00\x00\x00aq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03(("
        b"X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06"
        b"X\x03\x00\x00\x00cpuq\x07K\x06Ntq\x08QK\x00K\x02K\x03\x86q\tK\x03K\x01\x86q\n\x89"
        b"h\x00)Rq\x0btq\x0cRq\rX\x01\x00\x00\x00bq\x0eh\x03((h\x04h\x05h\x06h\x07K\x06Ntq\x0f"
        b"QK\x00K\x03K\x02\x86q\x10K\x01K\x03\x86q\x11\x89h\x00)Rq\x12tq\x13Rq\x14u."
    )
    path = tmp_path / "ok.pth"
    with path.open("wb") as fh:
        for obj in (_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(obj, fh, protocol=2)
        fh.write(proto)
        pickle.dump(["0"], fh, protocol=2)
        fh.write(struct.pack("<q", 6) + data.tobytes())
    state = load_state_dict(path)
    np.testing.assert_array_equal(state["a"], data.reshape(2, 3))
    np.testing.assert_array_equal(state["b"], data.reshape(2, 3).T)
