"""``dumpin scheduler``: the long-running APScheduler process (Europe/Paris, single instance)."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.logs import redact
from bot.settings import Settings
from scheduler.alerts import alert_admins
from scheduler.backup import backup_dir, list_backups
from scheduler.jobs import (
    Job,
    full_backup_job,
    harvest_job,
    purge_job,
    record_backups,
    retrain_check_job,
    retrain_job,
    run_scheduled,
    secrets,
)
from scheduler.lock import Held, LockLost, instance_lock

PARIS = ZoneInfo("Europe/Paris")
MISFIRE_GRACE_SECONDS = 3600
BACKUP_PERIOD_SECONDS = 7 * 24 * 3600

JOBS: tuple[tuple[str, BaseTrigger, Job], ...] = (
    (
        "backup",
        CronTrigger(day_of_week="sun", hour=23, minute=58, timezone=PARIS),
        full_backup_job,
    ),
    ("harvest", CronTrigger(day_of_week="sun", hour=23, minute=59, timezone=PARIS), harvest_job),
    ("retrain", CronTrigger(day_of_week="wed", hour=3, minute=0, timezone=PARIS), retrain_job),
    ("retrain-check", IntervalTrigger(hours=1, timezone=PARIS), retrain_check_job),
    ("purge", CronTrigger(hour=4, minute=30, timezone=PARIS), purge_job),
)
"""Stable job ids, their triggers and the job functions."""

log = logging.getLogger(__name__)


class JobTracker:
    """Runs each job as a tracked task so that a stop can wait for the one in progress."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.running: set[asyncio.Task[None]] = set()

    async def run(self, name: str, job: Job) -> None:
        """The function APScheduler calls: one job run, tracked until it ends."""
        if self.stop.is_set():
            return
        task = asyncio.create_task(run_scheduled(self.settings, name, job, self.stop))
        self.running.add(task)
        try:
            await asyncio.shield(task)
        finally:
            self.running.discard(task)

    async def drain(self) -> None:
        """Ask the running job to stop after its current step and wait for it."""
        self.stop.set()
        if self.running:
            log.info("waiting for %d running job(s) to stop", len(self.running))
            await asyncio.gather(*self.running, return_exceptions=True)


def build_scheduler(tracker: JobTracker) -> AsyncIOScheduler:
    """The scheduler with every job: coalesced, one instance each, an hour of misfire grace."""
    scheduler = AsyncIOScheduler(
        timezone=PARIS,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    for job_id, trigger, job in JOBS:
        scheduler.add_job(
            tracker.run, trigger, args=(job_id, job), id=job_id, name=job_id, replace_existing=True
        )
    return scheduler


def backup_overdue(data_dir: Path, now: float) -> bool:
    """No backup, or the newest is older than the weekly period (the scheduler was down when
    it was due: APScheduler's misfire grace does not survive a restart)."""
    found = list_backups(backup_dir(data_dir))
    return not found or now - found[-1].stat().st_mtime > BACKUP_PERIOD_SECONDS


async def record_backups_at_start(settings: Settings) -> None:
    """Record backups copied into the folder while the scheduler was down; a failure (a
    database not migrated yet) is logged, not fatal: the next backup records them all."""
    try:
        await record_backups(settings)
    except SQLAlchemyError as exc:
        reason = redact(str(exc).splitlines()[0], secrets(settings))
        log.warning("kept backups not recorded for /stats: %s", reason)


async def watch_lock(held: Held, every: float) -> None:
    """Return once the lock is gone (checked every ``every`` seconds)."""
    while await held.check():  # noqa: ASYNC110 (the server's state: nothing to await)
        await asyncio.sleep(every)


async def run_scheduler(settings: Settings) -> None:
    """Hold the single-instance lock, run the jobs until SIGTERM/SIGINT, then stop cleanly.

    A second scheduler on the same database gets ``LockBusy`` and exits. When the lock is
    lost (``DUMPIN_LOCK_CHECK_SECONDS``), the jobs are stopped, the admins alerted and
    :class:`LockLost` raised (non-zero exit), since another scheduler may now run them.
    """
    async with instance_lock(settings.db_url, "scheduler") as held:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await record_backups_at_start(settings)
        tracker = JobTracker(settings)
        scheduler = build_scheduler(tracker)
        scheduler.start()
        if backup_overdue(settings.data_dir, time.time()):
            log.warning("no backup in the last 7 days: running one now")
            scheduler.modify_job("backup", next_run_time=datetime.now(PARIS))
        for job in scheduler.get_jobs():
            log.info("job %s: next run %s", job.id, job.next_run_time.isoformat())
        log.info("scheduler running (pid lock held); SIGTERM stops it")
        watcher = asyncio.create_task(watch_lock(held, settings.lock_check_seconds))
        ended = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait((watcher, ended), return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost = watcher.done()  # an error while checking counts as a loss too
            watcher.cancel()
            ended.cancel()
            if lost:
                log.error(
                    "the scheduler lost its single-instance lock: stopping its jobs",
                    exc_info=watcher.exception(),
                )
            log.info("stopping the scheduler")
            scheduler.shutdown(wait=False)
            await tracker.drain()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        if lost:
            message = (
                "lost the scheduler's single-instance lock (database connection ended or "
                "lock file removed); stopped so that no job runs twice"
            )
            await alert_admins(settings, f"⚠️ Dumpin scheduler: {message}")
            raise LockLost(message)
        log.info("scheduler stopped")
