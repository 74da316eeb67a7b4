"""``*.media.tar``: what a database backup needs to restore the service, besides the database:
uploaded photos (``uploads/``), harvested samples (``dataset/``) and models (``models/``).

Each archive holds the files no kept archive holds yet. Archives are pruned like SQL backups
(the newest ``keep``), and what only a pruned archive held is carried over into the new one
while it still exists: every file on disk is in some kept archive, and a deleted file (a
forgotten user's photo) leaves the backups with the last archive holding it.
"""

from __future__ import annotations

import logging
import os
import tarfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from bot.errors import DumpinError
from scheduler.backup import backup_dir, partial_name, private_dir, private_file

MEDIA_SUFFIX = ".media.tar"
MEDIA_FOLDERS = ("uploads", "dataset", "models")
LEGACY_INDEX = "media-index.txt"
"""The list of archived photos earlier versions kept; archives now list themselves."""

log = logging.getLogger(__name__)


def list_media(directory: Path) -> list[Path]:
    """Complete media archives, oldest first."""
    return sorted(directory.glob(f"*{MEDIA_SUFFIX}"))


def media_files(data_dir: Path) -> list[str]:
    """Files of the media folders, relative to the data dir (hidden and partial ones left out)."""
    names = []
    for folder in MEDIA_FOLDERS:
        for path in (data_dir / folder).rglob("*"):
            relative = path.relative_to(data_dir)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                names.append(relative.as_posix())
    return sorted(names)


def _members(archive: Path) -> set[str]:
    try:
        with tarfile.open(archive) as tar:
            return set(tar.getnames())
    except (tarfile.TarError, OSError) as exc:
        log.warning("media archive %s unreadable (%s): its files are archived again", archive, exc)
        return set()


def archive_media(
    data_dir: Path, keep: int, when: datetime | None = None
) -> tuple[Path | None, int, list[Path]]:
    """Write the archive of files no kept archive holds, then prune to the newest ``keep``;
    returns the new archive (None when nothing is new), its file count and the archives
    removed."""
    directory = private_dir(backup_dir(data_dir))
    (directory / LEGACY_INDEX).unlink(missing_ok=True)
    archives = list_media(directory)
    doomed = archives[: max(0, len(archives) - (max(keep, 1) - 1))]
    archived: set[str] = set()
    for archive in archives[len(doomed) :]:
        archived |= _members(archive)
    new = [name for name in media_files(data_dir) if name not in archived]
    target = None
    if new:
        target = directory / f"{when or datetime.now():%Y%m%d%H%M%S}{MEDIA_SUFFIX}"
        if target.exists():
            raise DumpinError(f"{target.name} already exists")
        partial = partial_name(target)
        try:
            with private_file(partial) as raw, tarfile.open(fileobj=raw, mode="w") as tar:
                for name in new:
                    tar.add(data_dir / name, arcname=name, recursive=False)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    for stale in [*doomed, *directory.glob(f".*{MEDIA_SUFFIX}.partial")]:
        stale.unlink(missing_ok=True)
    return target, len(new), doomed


def extract_media(data_dir: Path, directory: Path) -> int:
    """Put back, oldest archive first, every archived file missing from the data dir (0600,
    written under a temporary name); returns how many. Names outside the media folders, links
    and devices are ignored."""
    restored = 0
    for archive in list_media(directory):
        with tarfile.open(archive) as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                safe = parts and parts[0] in MEDIA_FOLDERS and ".." not in parts
                target = data_dir.joinpath(*parts)
                if not (member.isfile() and safe) or target.exists():
                    continue
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = partial_name(target)
                with source, private_file(partial) as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                os.replace(partial, target)
                restored += 1
    return restored
