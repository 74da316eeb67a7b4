"""``dumpin restore``: the database from a backup, then the service around it: the schema
migrated to this version, photos, samples and models put back (``--media``), erased users
erased again, and photos no row refers to any more deleted. Every step is reported."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from db import erasures, predictions
from db.erasures import Erasures
from db.media import MediaStore
from db.migrate import upgrade
from scheduler.erasure_record import all_erasures, erasure_log
from scheduler.jobs import record_backups, with_sessions
from scheduler.media_archive import extract_media
from scheduler.restore import restore_database


@dataclass(frozen=True)
class RestoreOutcome:
    """What a restore put back and what it erased again."""

    rows: dict[str, int]
    media_files: int
    erasures_known: int
    users_erased: int
    photos_deleted: int


async def restore_service(
    settings: Settings, backup: Path, overwrite: bool, media: bool
) -> RestoreOutcome:
    """Restore ``backup`` and everything the service needs around it (the caller holds the
    backup lock; bot and scheduler are stopped)."""
    log = erasure_log(settings)

    async def before(sessions: async_sessionmaker[AsyncSession]) -> Erasures:
        async with sessions() as session:  # read now: the restore replaces this table
            return await all_erasures(session, log, backup.parent)

    known = await with_sessions(settings, before)
    report = await asyncio.to_thread(restore_database, settings.db_url, backup, overwrite)
    await asyncio.to_thread(upgrade, settings.db_url)
    restored = (
        await asyncio.to_thread(extract_media, settings.data_dir, backup.parent) if media else 0
    )

    async def erase_again(
        sessions: async_sessionmaker[AsyncSession],
    ) -> tuple[Erasures, int, set[str]]:
        async with sessions() as session:
            erased = erasures.merge(known, await erasures.recorded(session))
            await erasures.store(session, erased)
            count, _ = await erasures.reapply(session, log, erased)
            referenced = await predictions.stored_paths(session)
            await session.commit()
        await asyncio.to_thread(log.update, lambda current: erasures.merge(current, erased))
        return erased, count, referenced

    erased, count, referenced = await with_sessions(settings, erase_again)
    deleted = await asyncio.to_thread(MediaStore(settings.data_dir).delete_unreferenced, referenced)
    await record_backups(settings)  # the restored table predates the backups made since
    return RestoreOutcome(report.rows, restored, len(erased), count, len(deleted))
