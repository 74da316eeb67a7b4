"""Fault tests: the real bot (in-process or as a ``dumpin bot`` process) against the fake Bot
API on 127.0.0.1, with the database, Telegram, the disk or the process failing under it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from bench.botproc import answered, phone_photos, quoting, until
from db.migrate import upgrade
from tests.bot.conftest import BotHarness, start_bot

__all__ = ["answered", "quoting", "until"]
"""Shared with the load bench, in ``bench.botproc``."""


@pytest.fixture(scope="session")
def photos() -> list[bytes]:
    """Six phone-size JPEGs of different classes."""
    return phone_photos(6)


@pytest.fixture
async def bot(migrated_url: URL, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot, in this process, on SQLite and on MariaDB."""
    async for harness in start_bot(migrated_url, tmp_path / "data"):
        yield harness


@pytest.fixture
async def sqlite_bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot, in this process, on SQLite only."""
    url = make_url(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await asyncio.to_thread(upgrade, url)
    async for harness in start_bot(url, tmp_path / "data"):
        yield harness
