"""The ``backups`` table: which backup files the scheduler keeps and when each was written.

The files are in a volume only the scheduler mounts; the bot reads this table instead. The
scheduler keeps it in line with its folder (after each backup, after a restore, at start).
The caller commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Backup


@dataclass(frozen=True)
class BackupFile:
    """One backup file: when it was written (naive UTC) and its size in bytes."""

    written_at: datetime
    size: int


async def record(session: AsyncSession, files: Mapping[str, BackupFile]) -> None:
    """Make the table list exactly ``files`` (by name)."""
    await session.execute(delete(Backup).where(Backup.name.not_in(list(files))))
    known = {row.name: row for row in await session.scalars(select(Backup))}
    for name, found in files.items():
        row = known.get(name) or Backup(name=name)
        row.written_at, row.size = found.written_at, found.size
        session.add(row)
    await session.flush()


async def latest(session: AsyncSession) -> datetime | None:
    """When the newest kept backup was written (naive UTC), None before the first one."""
    written: datetime | None = await session.scalar(select(func.max(Backup.written_at)))
    return written
