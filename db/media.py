"""Content-addressed photo storage: ``uploads/<sha[:2]>/<sha>.<ext>`` under the data dir.

The hash is the one of the bytes received (the photo's identity); the file holds the image
re-encoded without metadata (:mod:`db.scrub`), written 0600.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Set
from pathlib import Path

from db.scrub import scrubbed


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
        """Store the image ``data`` (once) without its metadata and return its hash and
        relative path; raises ``OSError`` (:class:`db.scrub.UnreadableImage` included)."""
        digest = sha256(data)
        relative = self.relative_path(digest, extension)
        target = self.root / relative
        if target.exists():
            return digest, relative
        clean = scrubbed(data, extension)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(clean)
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

    def delete_unreferenced(self, referenced: Set[str], min_age: float = 0.0) -> list[str]:
        """Remove stored photos no row refers to (a forgotten user's, brought back by a
        restore) that are at least ``min_age`` seconds old (a photo being recorded is saved
        just before its row); returns their relative paths."""
        uploads = self.root / "uploads"
        cutoff = time.time() - min_age
        removed = []
        for path in sorted(uploads.glob("*/*")) if uploads.is_dir() else []:
            relative = path.relative_to(self.root).as_posix()
            if relative not in referenced and path.is_file() and path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)
                removed.append(relative)
        return removed


def extension_of(data: bytes) -> str:
    """The stored file's extension: ``jpg`` for a JPEG, ``png`` for any other format (stored
    images are re-encoded, see :mod:`db.scrub`)."""
    return "jpg" if data.startswith(b"\xff\xd8") else "png"
