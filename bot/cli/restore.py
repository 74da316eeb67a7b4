"""``dumpin restore FILE [--yes] [--media]``: replace the database with a backup, check row
counts, and put the service back around it (schema, media, erasures re-applied)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.settings import Settings
from scheduler.jobs import run_command
from scheduler.recovery import restore_service


def register(subparsers: Any) -> None:
    """Add ``restore``."""
    parser = subparsers.add_parser(
        "restore",
        help="restore a *.dumpin.sql.gz backup into the configured database",
        description="Recreate the configured database from a backup, compare row counts, "
        "migrate it to this version, erase again the users erased since (/oublier, "
        "inactivity) and delete the photos no row refers to. Stop the bot and the scheduler "
        "first.",
    )
    parser.add_argument("file", type=Path, help="the backup file")
    parser.add_argument(
        "--yes", action="store_true", help="replace the content of a non-empty database"
    )
    parser.add_argument(
        "--media",
        action="store_true",
        help="also put back the photos, samples and models of the *.media.tar archives "
        "next to FILE (files already there are kept)",
    )
    parser.set_defaults(func=_restore)


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    report = run_command(
        settings, "backup", lambda: restore_service(settings, args.file, args.yes, args.media)
    )
    for table, rows in report.rows.items():
        print(f"{table}: {rows} rows")
    print(f"restored {args.file.name}: row counts match")
    if args.media:
        print(f"{report.media_files} photos, samples and model files put back")
    print(
        f"erasures: {report.erasures_known} recorded, {report.users_erased} users in the "
        f"backup erased again; {report.photos_deleted} photos no row refers to deleted"
    )
    return 0
