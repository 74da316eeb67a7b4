"""``dumpin backup``: timestamped gzip SQL dumps with retention, private to their owner
(files 0600 in a 0700 folder: they hold every user's data)."""

from __future__ import annotations

import gzip
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import URL

from db.backups import BackupFile
from scheduler.dump import dump_database

BACKUP_SUFFIX = ".dumpin.sql.gz"
PARTIAL_SUFFIX = ".partial"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupReport:
    """What one backup run wrote and removed."""

    path: Path
    size: int
    seconds: float
    method: str
    removed: list[Path]
    media: Path | None = None
    media_files: int = 0


def backup_dir(data_dir: Path) -> Path:
    """``<data dir>/backups``, where every backup lives."""
    return data_dir / "backups"


def private_dir(directory: Path) -> Path:
    """Create ``directory`` 0700, or make it so, with the files in it 0600 (earlier versions
    wrote 0644 backups in a 0755 folder); returns it."""
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        os.chmod(directory, PRIVATE_DIR)
    except PermissionError:
        log.warning("cannot make %s private (0700): it belongs to another user", directory)
    for path in directory.iterdir():
        if path.is_file() and path.stat().st_mode & 0o077:
            os.chmod(path, PRIVATE_FILE)
    return directory


def private_file(path: Path) -> BinaryIO:
    """``path`` opened for writing, created 0600 (truncated if it exists)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb")


def backup_name(when: datetime) -> str:
    """``YYYYMMDDHHMM.dumpin.sql.gz``."""
    return f"{when:%Y%m%d%H%M}{BACKUP_SUFFIX}"


def list_backups(directory: Path) -> list[Path]:
    """Complete backups, oldest first (partial files are never listed)."""
    return sorted(directory.glob(f"*{BACKUP_SUFFIX}"))


def kept_backups(directory: Path) -> dict[str, BackupFile]:
    """Every complete backup with its write time (UTC) and size, for the ``backups`` table."""
    found = {}
    for path in list_backups(directory):
        info = path.stat()
        written = datetime.fromtimestamp(info.st_mtime, UTC).replace(tzinfo=None)
        found[path.name] = BackupFile(written, info.st_size)
    return found


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups (the newest always stays); returns them."""
    backups = list_backups(directory)
    doomed = backups[: max(0, len(backups) - max(keep, 1))]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def partial_name(target: Path) -> Path:
    """The temporary name a file is written under (never matched by the backup globs)."""
    return target.with_name(f".{target.name}{PARTIAL_SUFFIX}")


def write_backup(
    url: URL, data_dir: Path, keep: int, when: datetime | None = None, tool: str | None = "auto"
) -> BackupReport:
    """Dump the database to a temporary file, rename it into place, then apply retention."""
    directory = private_dir(backup_dir(data_dir))
    started = time.monotonic()
    target = directory / backup_name(when or datetime.now())  # same minute: the newer wins
    partial = partial_name(target)
    try:
        with private_file(partial) as raw, gzip.GzipFile(target.name, "wb", 6, raw) as out:
            method = dump_database(url, out, tool)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    for stale in directory.glob(f".*{BACKUP_SUFFIX}{PARTIAL_SUFFIX}"):
        stale.unlink(missing_ok=True)  # left by a killed backup; jobs never overlap (lock)
    removed = prune(directory, keep)
    seconds = time.monotonic() - started
    log.info(
        "backup %s written (%d bytes, %.1f s, %s)",
        target.name,
        target.stat().st_size,
        seconds,
        method,
    )
    return BackupReport(target, target.stat().st_size, seconds, method, removed)
