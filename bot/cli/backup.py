"""``dumpin backup [--media]``: a consistent gzip SQL dump (and an incremental photo tar)."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from bot.settings import Settings
from scheduler.jobs import backup_job, run_command


def register(subparsers: Any) -> None:
    """Add ``backup``."""
    parser = subparsers.add_parser(
        "backup",
        help="dump the database to <data dir>/backups/YYYYMMDDHHMM.dumpin.sql.gz",
        description="Dump the whole database consistently (gzip SQL script), keep the last "
        "DUMPIN_BACKUP_KEEP backups.",
    )
    parser.add_argument(
        "--media", action="store_true", help="also tar the uploaded photos not archived yet"
    )
    parser.set_defaults(func=_backup)


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    report = run_command(
        settings, "backup", lambda: backup_job(settings, threading.Event(), args.media)
    )
    print(f"{report.path} ({report.size} bytes, {report.seconds:.1f} s, {report.method})")
    for old in report.removed:
        print(f"removed {old.name}")
    if args.media:
        print(f"{report.media} ({report.media_files} photos)" if report.media else "no new photos")
    return 0
