"""Fault tests: the real bot (in-process or as a ``dumpin bot`` process) against the fake Bot
API on 127.0.0.1, with the database, Telegram, the disk or the process failing under it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL, make_url

from bench.botproc import phone_photos
from db.migrate import upgrade
from tests.bot.conftest import BotHarness, start_bot
from tests.fake_telegram import FakeTelegram, RecordedRequest, Sent


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


def quoting(sent: Sent) -> Callable[[RecordedRequest], bool]:
    """Matches a successful ``sendMessage`` that quotes the message of ``sent``."""

    def match(request: RecordedRequest) -> bool:
        reply: Any = request.params.get("reply_parameters") or {}
        return (
            request.ok
            and request.params.get("chat_id") == sent.chat_id
            and reply.get("message_id") == sent.message_id
        )

    return match


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``check`` every 50 ms until true; fail naming ``what`` after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


def answered(tg: FakeTelegram, sent: Sent) -> list[RecordedRequest]:
    """Successful replies quoting ``sent`` so far."""
    return [r for r in tg.requests("sendMessage") if quoting(sent)(r)]
