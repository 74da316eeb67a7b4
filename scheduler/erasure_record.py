"""The erasure record as the jobs use it: every source merged, and its copy kept with the
backups (which outlives the data dir and the database when both are lost)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from db import erasures
from db.erasures import ErasureLog, Erasures, read_record
from scheduler.backup import partial_name, private_dir, private_file


def erasure_log(settings: Settings) -> ErasureLog:
    """The erasure record of this deployment."""
    return ErasureLog.open(settings.data_dir, settings.erasure_key)


def backup_copy(directory: Path) -> Path:
    """The copy of the erasure record kept with the backups."""
    return directory / erasures.RECORD_FILE


async def all_erasures(session: AsyncSession, log: ErasureLog, directory: Path) -> Erasures:
    """Every erasure known: the database's, the data dir's record, the backups' copy."""
    return erasures.merge(
        await erasures.recorded_if_any(session),
        await asyncio.to_thread(read_record, log.path),
        await asyncio.to_thread(read_record, backup_copy(directory)),
    )


def write_backup_copy(directory: Path, entries: Erasures) -> None:
    """Replace the backups' copy of the erasure record (0600, atomic)."""
    target = backup_copy(private_dir(directory))
    partial = partial_name(target)
    with private_file(partial) as out:
        out.write(erasures.format_record(entries).encode())
    os.replace(partial, target)
