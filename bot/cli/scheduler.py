"""``dumpin scheduler``: backups, harvest and retraining on their schedule (one process)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.settings import Settings
from scheduler.process import run_scheduler


def register(subparsers: Any) -> None:
    """Add ``scheduler``."""
    parser = subparsers.add_parser(
        "scheduler",
        help="run the scheduler process (backup, harvest, retrain); SIGTERM stops it",
        description="Europe/Paris: backup Sunday 23:58, harvest Sunday 23:59, retrain "
        "Wednesday 03:00 and hourly when DUMPIN_RETRAIN_MIN_NEW samples are new.",
    )
    parser.set_defaults(func=_scheduler)


def _scheduler(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(run_scheduler(settings))
    return 0
