"""``dumpin search QUERY...``: the objects a query finds, with their container."""

from __future__ import annotations

import argparse
import asyncio
import json
import unicodedata
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.cli.classify import department_code
from bot.settings import Settings
from db.disposal import Rulebook, load_rulebook
from db.errors import reading_error
from db.items import Catalogue, load_catalogue
from db.session import create_engine, session_factory

MAX_QUERY = 200
"""Longer queries are refused: no object name is that long."""


def register(subparsers: Any) -> None:
    """Add ``search``."""
    parser = subparsers.add_parser("search", help="find objects by name (ADEME's list)")
    parser.add_argument("queries", nargs="+", metavar="QUERY")
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of the user")
    parser.add_argument("--department", help="département code, name or postal code")
    parser.add_argument("--json", action="store_true", help="one JSON object per query and line")
    parser.set_defaults(func=_run)


async def _load(settings: Settings) -> tuple[Catalogue, Rulebook]:
    engine = create_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session:
            return await load_catalogue(session), await load_rulebook(session)
    except (OperationalError, ProgrammingError) as exc:
        raise reading_error(exc) from None
    finally:
        await engine.dispose()


def _clean(query: str) -> str:
    """The query without control characters (what a chat message cannot hold)."""
    return "".join(c for c in query if unicodedata.category(c)[0] != "C")


def answer(
    query: str, catalogue: Catalogue, rules: Rulebook, department: str | None, language: str
) -> dict[str, Any]:
    """The JSON answer to one query: its matches, or an error for a query too long."""
    if len(query) > MAX_QUERY:
        return {"query": query, "error": f"query too long ({len(query)} > {MAX_QUERY} characters)"}
    result, items = catalogue.search(_clean(query), language)
    matches = []
    for match, item in zip(result.matches, items, strict=True):
        rule = rules.disposal(item.category, department, language) if item.category else None
        matches.append(
            {
                "item": item.name,
                "name": match.name,
                "score": match.score,
                "category": item.category,
                "container": rule.container if rule else None,
                "instruction": item.advice(),
            }
        )
    return {"query": query, "matches": matches}


def _line(found: dict[str, Any]) -> str:
    if "error" in found:
        return f"{found['query'][:60]!r}: error: {found['error']}"
    if not found["matches"]:
        return f"{found['query']!r}: no match"
    best = ", ".join(
        f"{m['item']} ({m['score']:.0f}){' -> ' + m['container'] if m['container'] else ''}"
        for m in found["matches"]
    )
    return f"{found['query']!r}: {best}"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    department = department_code(args.department)
    catalogue, rules = asyncio.run(_load(settings))
    for query in args.queries:
        found = answer(query, catalogue, rules, department, args.lang)
        print(json.dumps(found, ensure_ascii=False) if args.json else _line(found))
    return 0
