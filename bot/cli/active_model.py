"""The model the bot answers with, for the commands that classify (``classify``, ``evaluate``):
the active row of the ``models`` table, or the shipped model when there is none yet."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from bot.settings import Settings
from db.errors import database_error, schema_missing
from db.session import create_engine, session_factory, sqlite_file_missing
from ml.registry import active_model


async def _recorded(settings: Settings) -> Path | None:
    """The active model's folder (None without a row, or before ``dumpin db upgrade``)."""
    engine = create_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session:
            row = await active_model(session)
    except DBAPIError as exc:
        if schema_missing(exc):  # nothing recorded: the bot would serve the shipped model
            return None
        raise database_error(exc) from None
    finally:
        await engine.dispose()
    return Path(row.path) if row is not None else None


def model_dir(settings: Settings, chosen: Path | None) -> Path:
    """``chosen`` (``--model``), else the active model, else the shipped one. A SQLite database
    that does not exist yet is not created: nothing is recorded in it."""
    if chosen is not None:
        return chosen
    missing = sqlite_file_missing(settings.db_url)
    recorded = None if missing else asyncio.run(_recorded(settings))
    return recorded or settings.shipped_model_dir
