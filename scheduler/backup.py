"""``dumpin backup``: timestamped gzip SQL dumps with retention, and incremental photo tars."""

from __future__ import annotations

import gzip
import logging
import os
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL

from bot.errors import DumpinError
from bot.stats_text import BACKUP_SUFFIX
from scheduler.dump import dump_database

MEDIA_SUFFIX = ".media.tar"
MEDIA_INDEX = "media-index.txt"
PARTIAL_SUFFIX = ".partial"

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


def backup_name(when: datetime) -> str:
    """``YYYYMMDDHHMM.dumpin.sql.gz`` (the name ``bot.stats_text`` looks for)."""
    return f"{when:%Y%m%d%H%M}{BACKUP_SUFFIX}"


def list_backups(directory: Path) -> list[Path]:
    """Complete backups, oldest first (partial files are never listed)."""
    return sorted(directory.glob(f"*{BACKUP_SUFFIX}"))


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups (the newest always stays); returns them."""
    backups = list_backups(directory)
    doomed = backups[: max(0, len(backups) - max(keep, 1))]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def _partial(target: Path) -> Path:
    """The temporary name a file is written under (never matched by the backup globs)."""
    return target.with_name(f".{target.name}{PARTIAL_SUFFIX}")


def write_backup(
    url: URL, data_dir: Path, keep: int, when: datetime | None = None, tool: str | None = "auto"
) -> BackupReport:
    """Dump the database to a temporary file, rename it into place, then apply retention."""
    directory = backup_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    target = directory / backup_name(when or datetime.now())  # same minute: the newer wins
    partial = _partial(target)
    try:
        with gzip.open(partial, "wb", compresslevel=6) as out:
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


def archive_media(data_dir: Path, when: datetime | None = None) -> tuple[Path | None, int]:
    """Tar the uploaded photos not in any earlier media tar; returns the tar and its size."""
    directory = backup_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / MEDIA_INDEX
    archived = set(index.read_text().split()) if index.exists() else set()
    uploads = data_dir / "uploads"
    new = (
        sorted(
            path.relative_to(data_dir).as_posix()
            for path in uploads.glob("*/*")
            if path.is_file() and not path.name.startswith(".")
        )
        if uploads.is_dir()
        else []
    )
    new = [name for name in new if name not in archived]
    if not new:
        return None, 0
    stamp = f"{when or datetime.now():%Y%m%d%H%M%S}"
    target = directory / f"{stamp}{MEDIA_SUFFIX}"
    if target.exists():
        raise DumpinError(f"{target.name} already exists")
    partial = _partial(target)
    try:
        with tarfile.open(partial, "w") as tar:
            for name in new:
                tar.add(data_dir / name, arcname=name, recursive=False)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    with index.open("a") as handle:
        handle.write("".join(f"{name}\n" for name in new))
    return target, len(new)
