"""The real bot (Application with polling) against the fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import URL
from telegram.ext import Application

from bot.app import build_application
from bot.services import Services
from bot.settings import Settings
from db.seed import seed
from db.session import create_engine, session_factory
from tests.conftest import DATASETS, bot_settings
from tests.fake_telegram import FakeTelegram, FakeUser, RecordedRequest, Sent

ADMIN_ID = 900
DATASET = DATASETS / "waste-v1"


def photo_bytes(relative: str, size: tuple[int, int] | None = (1280, 960)) -> bytes:
    """A real dataset photo, upscaled to phone size as users send them."""
    image = Image.open(DATASET / relative).convert("RGB")
    if size is not None:
        image = image.resize(size)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def same_picture(stored: bytes, sent: bytes) -> bool:
    """The stored file is the image sent (re-encoded: same size, nearly the same pixels)."""
    with Image.open(io.BytesIO(stored)) as a, Image.open(io.BytesIO(sent)) as b:
        if a.size != b.size:
            return False
        diff = np.abs(np.asarray(a.convert("RGB"), np.int16) - np.asarray(b.convert("RGB")))
        return float(diff.mean()) < 2


@dataclass
class BotHarness:
    """A running bot, its fake Telegram, and shortcuts for conversations."""

    tg: FakeTelegram
    app: Application  # type: ignore[type-arg]
    services: Services
    settings: Settings

    async def reply(self, sent: Sent, method: str = "sendMessage") -> RecordedRequest:
        """The next ``method`` request sent to the chat of ``sent``."""
        chat = sent.chat_id if sent.message else sent.callback_query["from"]["id"]  # type: ignore[index]
        return (
            await self.tg.wait_for(
                method, lambda r: str(r.params.get("chat_id")) == str(chat), timeout=20
            )
        )[0]

    async def answer_of(self, sent: Sent) -> dict[str, Any]:
        """The ``answerCallbackQuery`` for a pressed button."""
        query_id = sent.callback_query["id"]  # type: ignore[index]
        found = await self.tg.wait_for(
            "answerCallbackQuery", lambda r: r.params.get("callback_query_id") == query_id
        )
        return found[0].params

    def last_message(self, user: FakeUser) -> dict[str, Any]:
        """The bot's latest message in the user's chat, as it stands after edits."""
        return self.tg.messages(user)[-1]


async def consent(bot: BotHarness, user: FakeUser, department: str | None = None) -> None:
    """/start, accept, and optionally set the département."""
    privacy = await bot.reply(await bot.tg.send_command(user, "/start"))
    pressed = await bot.tg.press_button(user, privacy.result, "consent:yes")
    await bot.reply(pressed, "editMessageText")
    await bot.reply(pressed)
    if department:
        await bot.reply(await bot.tg.send_command(user, "/departement", department))


def buttons(message: dict[str, Any]) -> list[str]:
    """Callback data of every inline button of a message."""
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> URL:
    """A migrated SQLite database (most bot tests need one engine only)."""
    from sqlalchemy.engine import make_url

    from db.migrate import upgrade

    url = make_url(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await asyncio.to_thread(upgrade, url)
    return url


async def start_bot(
    url: URL, data_dir: Path, tg: FakeTelegram | None = None, **overrides: Any
) -> AsyncIterator[BotHarness]:
    """Seed ``url``, start the fake server (or use ``tg``) and the bot polling it; stop both
    afterwards (the bot only, for a given ``tg``)."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        await seed(session)
        await session.commit()
    await engine.dispose()
    async with FakeTelegram() if tg is None else nullcontext(tg) as fake:
        settings = bot_settings(fake.url, data_dir, url, admin_ids=str(ADMIN_ID), **overrides)
        app = build_application(settings)
        await app.initialize()
        await app.post_init(app)  # type: ignore[misc]
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield BotHarness(fake, app, app.bot_data["services"], settings)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await app.post_shutdown(app)  # type: ignore[misc]


@pytest.fixture
async def bot(sqlite_url: URL, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot on SQLite."""
    async for harness in start_bot(sqlite_url, tmp_path / "data"):
        yield harness
