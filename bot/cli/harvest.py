"""``dumpin harvest``: confirmed photos of consenting users become dataset samples."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from bot.settings import Settings
from scheduler.jobs import harvest_job, run_command


def register(subparsers: Any) -> None:
    """Add ``harvest``."""
    parser = subparsers.add_parser(
        "harvest",
        help="add confirmed photos to the training and test sets (idempotent)",
        description="Add the confirmed photos of consenting users to the datasets, for each "
        "class with at least DUMPIN_HARVEST_MIN_PER_CLASS new photos.",
    )
    parser.set_defaults(func=_harvest)


def _harvest(_args: argparse.Namespace, settings: Settings) -> int:
    report = run_command(settings, "harvest", lambda: harvest_job(settings, threading.Event()))
    for name, count in sorted(report.added.items()):
        print(f"{name}: {count} added")
    for name, count in sorted(report.waiting.items()):
        print(f"{name}: {count} waiting (< {settings.harvest_min_per_class})")
    print(
        f"{sum(report.added.values())} added, {report.relabelled} relabelled after a correction; "
        f"{report.duplicates} already in a dataset, "
        f"{report.conflicting} with conflicting labels, {report.missing_files} files missing, "
        f"{report.unreadable} unreadable"
    )
    return 0
