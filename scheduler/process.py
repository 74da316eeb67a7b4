"""``dumpin scheduler``: the long-running APScheduler process (Europe/Paris, single instance)."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.settings import Settings
from scheduler.jobs import (
    Job,
    backup_job,
    harvest_job,
    retrain_check_job,
    retrain_job,
    run_scheduled,
)
from scheduler.lock import instance_lock

PARIS = ZoneInfo("Europe/Paris")
MISFIRE_GRACE_SECONDS = 3600

JOBS: tuple[tuple[str, BaseTrigger, Job], ...] = (
    ("backup", CronTrigger(day_of_week="sun", hour=23, minute=58, timezone=PARIS), backup_job),
    ("harvest", CronTrigger(day_of_week="sun", hour=23, minute=59, timezone=PARIS), harvest_job),
    ("retrain", CronTrigger(day_of_week="wed", hour=3, minute=0, timezone=PARIS), retrain_job),
    ("retrain-check", IntervalTrigger(hours=1, timezone=PARIS), retrain_check_job),
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


async def run_scheduler(settings: Settings) -> None:
    """Hold the single-instance lock, run the jobs until SIGTERM/SIGINT, then stop cleanly.

    A second scheduler on the same database gets ``LockBusy`` and exits.
    """
    async with instance_lock(settings.db_url, "scheduler"):
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        tracker = JobTracker(settings)
        scheduler = build_scheduler(tracker)
        scheduler.start()
        for job in scheduler.get_jobs():
            log.info("job %s: next run %s", job.id, job.next_run_time.isoformat())
        log.info("scheduler running (pid lock held); SIGTERM stops it")
        try:
            await stopping.wait()
        finally:
            log.info("stopping the scheduler")
            scheduler.shutdown(wait=False)
            await tracker.drain()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("scheduler stopped")
