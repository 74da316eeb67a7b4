"""``dumpin db upgrade`` and ``dumpin db seed``."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.settings import Settings
from db.errors import database_error
from db.migrate import upgrade
from db.seed import seed
from db.session import create_engine, session_factory


def register(subparsers: Any) -> None:
    """Add ``db`` with its ``upgrade`` and ``seed`` actions."""
    parser = subparsers.add_parser("db", help="create, migrate and seed the database")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="create the schema or migrate it to the latest version")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(func=_upgrade)
    actions.add_parser(
        "seed", help="load départements, régions and sorting rules (idempotent)"
    ).set_defaults(func=_seed)


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    try:
        upgrade(settings.db_url, args.revision)
    except OperationalError as exc:
        raise database_error(exc) from None
    print(f"database at revision {args.revision}")
    return 0


def _seed(_args: argparse.Namespace, settings: Settings) -> int:
    try:
        reports = asyncio.run(_run_seed(settings))
    except OperationalError as exc:
        raise database_error(exc) from None
    for report in reports:
        print(
            f"{report.table}: {report.inserted} inserted, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )
    return 0


async def _run_seed(settings: Settings) -> list[Any]:
    engine = create_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session:
            reports = await seed(session)
            await session.commit()
        return reports
    finally:
        await engine.dispose()
