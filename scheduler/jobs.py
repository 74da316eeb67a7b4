"""The scheduler's jobs, shared with their one-shot CLI commands: each opens its own engine
and holds a per-job lock, so a manual run never overlaps a scheduled one."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import pymysql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import DumpinError
from bot.logs import redact
from bot.settings import Settings
from db import backups, predictions
from db.erasures import Erasures
from db.errors import database_error
from db.media import MediaStore
from db.models import utcnow
from db.scrub import scrub_stored
from db.session import create_engine, session_factory
from scheduler.alerts import alert_admins
from scheduler.backup import BackupReport, backup_dir, kept_backups, write_backup
from scheduler.erasure_record import all_erasures, erasure_log, write_backup_copy
from scheduler.harvest import HarvestReport, harvest
from scheduler.lock import instance_lock
from scheduler.media_archive import archive_media
from scheduler.purge import STRAY_MIN_AGE, PurgeReport, erasure_horizon, purge
from scheduler.retrain import RetrainReport, Stopped, retrain

T = TypeVar("T")
Job = Callable[[Settings, threading.Event], Awaitable[object]]
log = logging.getLogger(__name__)


async def locked(settings: Settings, name: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work()`` holding the job lock ``name`` (``LockBusy`` when it is already running)."""
    async with instance_lock(settings.db_url, f"job-{name}"):
        return await work()


def secrets(settings: Settings) -> tuple[str, ...]:
    """The values no log line or alert may contain."""
    values = [
        s.get_secret_value()
        for s in (settings.telegram_token, settings.database_url, settings.erasure_key)
        if s
    ]
    return (*values, *((str(settings.db_url.password),) if settings.db_url.password else ()))


async def with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Run ``work`` with a session factory on a fresh engine, disposed afterwards."""
    engine = create_engine(settings.db_url)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


async def backup_job(
    settings: Settings, _stop: threading.Event, media: bool = False
) -> BackupReport:
    """Database dump and a copy of the erasure record (and, with ``media``, the archive of
    photos, samples and models)."""
    report = await asyncio.to_thread(
        write_backup, settings.db_url, settings.data_dir, settings.backup_keep
    )
    await copy_erasures(settings)
    if media:
        tar, count, removed = await asyncio.to_thread(
            archive_media, settings.data_dir, settings.backup_keep
        )
        report = BackupReport(
            report.path,
            report.size,
            report.seconds,
            report.method,
            [*report.removed, *removed],
            tar,
            count,
        )
    await record_backups(settings)
    return report


async def record_backups(settings: Settings) -> None:
    """Write the kept backups into the ``backups`` table, where the bot (which does not
    mount the backups volume) reads when the last one was made."""
    files = await asyncio.to_thread(kept_backups, backup_dir(settings.data_dir))

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session:
            await backups.record(session, files)
            await session.commit()

    await with_sessions(settings, work)


async def full_backup_job(settings: Settings, stop: threading.Event) -> BackupReport:
    """The scheduled backup: database, erasure record and media archive."""
    return await backup_job(settings, stop, media=True)


async def copy_erasures(settings: Settings, expired_before: datetime | None = None) -> None:
    """Write every known erasure (those after ``expired_before`` if given) beside the
    backups."""
    directory = backup_dir(settings.data_dir)

    async def known(sessions: async_sessionmaker[AsyncSession]) -> Erasures:
        async with sessions() as session:
            return await all_erasures(session, erasure_log(settings), directory)

    entries = await with_sessions(settings, known)
    if expired_before is not None:
        entries = {d: w for d, w in entries.items() if w >= expired_before}
    await asyncio.to_thread(write_backup_copy, directory, entries)


async def harvest_job(settings: Settings, _stop: threading.Event) -> HarvestReport:
    """Harvest confirmed photos into the datasets."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> HarvestReport:
        async with sessions() as session:
            report = await harvest(session, settings.data_dir, settings.harvest_min_per_class)
            await session.commit()
        log.info("harvest: added %s, waiting %s", report.added or "nothing", report.waiting or "-")
        return report

    return await with_sessions(settings, work)


async def purge_job(settings: Settings, _stop: threading.Event) -> PurgeReport:
    """Retention: unconfirmed photos, inactive users, expired erasure records, stray files."""
    record = erasure_log(settings)
    now = utcnow()
    horizon = erasure_horizon(backup_dir(settings.data_dir), settings.backup_keep, now)

    async def work(
        sessions: async_sessionmaker[AsyncSession],
    ) -> tuple[PurgeReport, list[str], set[str]]:
        async with sessions() as session:
            report, paths = await purge(
                session,
                record,
                now,
                settings.unconfirmed_photo_days,
                settings.inactive_user_days,
                horizon,
            )
            referenced = await predictions.stored_paths(session)
            await session.commit()
        return report, paths, referenced

    report, paths, referenced = await with_sessions(settings, work)
    media = MediaStore(settings.data_dir)
    await asyncio.to_thread(media.delete_all, paths)
    strays = await asyncio.to_thread(media.delete_unreferenced, referenced, STRAY_MIN_AGE)
    if report.erasures:
        await copy_erasures(settings, expired_before=horizon)
    reencoded = await asyncio.to_thread(scrub_stored, settings.data_dir)
    files = len(paths) + len(strays)
    report = PurgeReport(report.users, report.photos, files, report.erasures, reencoded)
    log.info(
        "purge: %d users erased, %d unconfirmed photos, %d files deleted, %d erasure records "
        "expired, %d earlier images re-encoded without metadata",
        report.users,
        report.photos,
        report.files,
        report.erasures,
        report.reencoded,
    )
    return report


async def retrain_job(
    settings: Settings, stop: threading.Event, min_new: int = 0, promote: bool = True
) -> RetrainReport | None:
    """Retrain (only with ``min_new`` new samples when that is set) and maybe promote."""
    return await with_sessions(
        settings, lambda sessions: retrain(settings, sessions, min_new, promote, stop)
    )


async def retrain_check_job(settings: Settings, stop: threading.Event) -> RetrainReport | None:
    """The hourly check: retrain once ``DUMPIN_RETRAIN_MIN_NEW`` samples are new."""
    return await retrain_job(settings, stop, min_new=settings.retrain_min_new)


async def run_scheduled(settings: Settings, name: str, job: Job, stop: threading.Event) -> None:
    """Run one job for the scheduler: errors are logged and sent to the admins, never raised."""
    log.info("job %s started", name)
    try:
        result = await locked(settings, name, lambda: job(settings, stop))
    except Stopped:
        log.info("job %s stopped before its end", name)
    except Exception as exc:
        log.exception("job %s failed", name)
        await alert_admins(
            settings,
            f"⚠️ Dumpin scheduler: job {name} failed: "
            f"{type(exc).__name__}: {redact(str(exc), secrets(settings))}",
        )
    else:
        log.info("job %s finished: %s", name, result)


def run_command(settings: Settings, name: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run a job from the CLI under its lock; database failures become one-line errors."""
    try:
        return asyncio.run(locked(settings, name, work))
    except DBAPIError as exc:
        raise database_error(exc) from None
    except (pymysql.MySQLError, sqlite3.Error) as exc:
        raise DumpinError(f"database error: {str(exc).splitlines()[0]}") from None
