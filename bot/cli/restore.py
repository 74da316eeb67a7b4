"""``dumpin restore FILE [--yes]``: replace the database with a backup and check row counts."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bot.settings import Settings
from scheduler.jobs import run_command
from scheduler.restore import restore_database


def register(subparsers: Any) -> None:
    """Add ``restore``."""
    parser = subparsers.add_parser(
        "restore",
        help="restore a *.dumpin.sql.gz backup into the configured database",
        description="Recreate the configured database from a backup, then compare row counts. "
        "Stop the bot and the scheduler first.",
    )
    parser.add_argument("file", type=Path, help="the backup file")
    parser.add_argument(
        "--yes", action="store_true", help="replace the content of a non-empty database"
    )
    parser.set_defaults(func=_restore)


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> Any:
        return await asyncio.to_thread(restore_database, settings.db_url, args.file, args.yes)

    report = run_command(settings, "backup", work)
    for table, rows in report.rows.items():
        print(f"{table}: {rows} rows")
    print(f"restored {args.file.name}: row counts match")
    return 0
