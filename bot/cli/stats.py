"""``dumpin stats [--png FILE]``: the admins' figures on the command line, and their chart."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.errors import DumpinError
from bot.settings import Settings
from bot.stats_chart import render_png
from bot.stats_text import card_metrics, stats_report
from db import trends
from db.errors import database_error
from db.session import create_engine, session_factory
from ml.registry import read_card


def register(subparsers: Any) -> None:
    """Add ``stats``."""
    parser = subparsers.add_parser("stats", help="usage, accuracy and model figures")
    parser.add_argument("--lang", choices=("fr", "en"), help="language of the report")
    parser.add_argument(
        "--png",
        type=Path,
        metavar="FILE",
        help="also write the weekly chart /stats sends (photos, corrections, accuracy per "
        "model, top mistakes) to FILE",
    )
    parser.set_defaults(func=_run)


async def _collect(
    settings: Settings, language: str, chart: bool
) -> tuple[str, trends.Trends | None]:
    card = read_card(settings.shipped_model_dir)
    engine = create_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session:
            text = await stats_report(session, language, (card["version"], card_metrics(card)))
            return text, await trends.collect(session) if chart else None
    finally:
        await engine.dispose()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    language = args.lang or settings.default_language
    try:
        text, weekly = asyncio.run(_collect(settings, language, args.png is not None))
    except OperationalError as exc:
        raise database_error(exc) from None
    print(text)
    if weekly is not None:
        try:
            args.png.write_bytes(render_png(weekly, language))
        except OSError as exc:
            raise DumpinError(f"cannot write {args.png}: {exc.strerror}") from None
        print(f"chart written to {args.png}")
    return 0
