"""``dumpin stats``: the admins' figures on the command line."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.search_stats import search_lines
from bot.settings import Settings
from bot.stats_text import card_metrics, last_backup, stats_lines
from db import items, stats
from db.errors import database_error
from db.session import create_engine, session_factory
from locales import translations
from locales.labels import LABELS
from ml.registry import read_card


def register(subparsers: Any) -> None:
    """Add ``stats``."""
    parser = subparsers.add_parser("stats", help="usage, accuracy and model figures")
    parser.add_argument("--lang", choices=("fr", "en"), help="language of the report")
    parser.set_defaults(func=_run)


async def _collect(settings: Settings) -> tuple[stats.Stats, items.SearchFigures]:
    engine = create_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session:
            return await stats.collect(session), await items.search_figures(session)
    finally:
        await engine.dispose()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        figures, searches = asyncio.run(_collect(settings))
    except OperationalError as exc:
        raise database_error(exc) from None
    card = read_card(settings.shipped_model_dir)
    _ = translations(args.lang or settings.default_language).gettext
    lines = stats_lines(
        figures,
        _,
        lambda category: _(LABELS[category]),
        (card["version"], card_metrics(card)),
        last_backup(settings.data_dir),
    )
    lines.extend(search_lines(searches, _))
    print("\n".join(lines))
    return 0
