"""Content-addressed photo storage: ``uploads/<sha[:2]>/<sha>.<ext>`` under the data dir."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``: the photo's identity everywhere."""
    return hashlib.sha256(data).hexdigest()


class MediaStore:
    """Stores each distinct photo once; writes are atomic (temporary file, then rename)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir

    def relative_path(self, digest: str, extension: str = "jpg") -> str:
        """Where a photo with this hash lives, relative to the data dir."""
        return f"uploads/{digest[:2]}/{digest}.{extension}"

    def save(self, data: bytes, extension: str = "jpg") -> tuple[str, str]:
        """Store ``data`` (once) and return its hash and relative path."""
        digest = sha256(data)
        relative = self.relative_path(digest, extension)
        target = self.root / relative
        if target.exists():
            return digest, relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest, relative

    def delete(self, relative: str) -> None:
        """Remove a stored photo (no error when it is already gone)."""
        (self.root / relative).unlink(missing_ok=True)

    def delete_all(self, relatives: list[str]) -> None:
        """Remove several stored photos."""
        for relative in relatives:
            self.delete(relative)


def extension_of(data: bytes) -> str:
    """File extension from the image's signature (``jpg`` when unknown)."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"GIF8"):
        return "gif"
    return "jpg"
