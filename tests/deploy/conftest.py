"""The bot served by :func:`bot.web.running` against the fake Bot API, reached over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url
from telegram.ext import Application

from bot.app import build_application
from bot.services import Services
from bot.settings import Settings
from bot.web import Server, running
from db.migrate import upgrade
from db.seed import seed
from db.session import create_engine, session_factory
from tests.conftest import bot_settings
from tests.fake_telegram import FakeTelegram

WEBHOOK_URL = "https://bot.example.test/telegram/hook"
WEBHOOK_PATH = "/telegram/hook"
SECRET = "s3cret-Token_for-tests"


@dataclass
class Deployed:
    """A running bot, its fake Telegram and an HTTP client for its server."""

    tg: FakeTelegram
    app: Application  # type: ignore[type-arg]
    settings: Settings
    server: Server
    http: aiohttp.ClientSession

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.app.bot_data["services"]  # type: ignore[no-any-return]

    async def post_update(
        self, update: dict[str, Any], *, secret: str | None = SECRET
    ) -> tuple[int, str]:
        """POST ``update`` to the webhook as Telegram does; status and body."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.post(WEBHOOK_PATH, json.dumps(update).encode(), headers=headers)

    async def post(
        self,
        path: str,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, str]:
        """POST raw ``body`` to ``path``."""
        headers = {"Content-Type": content_type, **(headers or {})}
        async with self.http.post(self.server.url + path, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    async def get(self, path: str) -> tuple[int, str, str]:
        """GET ``path``: status, body and content type."""
        async with self.http.get(self.server.url + path) as resp:
            return resp.status, await resp.text(), resp.headers.get("Content-Type", "")

    async def metric(self, sample: str) -> float | None:
        """The value of one sample line of ``/metrics`` (``None`` when absent)."""
        _, body, _ = await self.get("/metrics")
        for line in body.splitlines():
            name, _, value = line.rpartition(" ")
            if name == sample:
                return float(value)
        return None

    async def wait_metric(self, sample: str, value: float) -> None:
        """Wait up to 10 s until ``sample`` reads ``value`` (counted once a handler returned)."""
        for _ in range(200):
            if await self.metric(sample) == value:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{sample} never reached {value}: {await self.metric(sample)}")


async def migrated_sqlite(path: Path) -> URL:
    """A migrated and seeded SQLite database."""
    url = make_url(f"sqlite+aiosqlite:///{path}")
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        await seed(session)
        await session.commit()
    await engine.dispose()
    return url


@asynccontextmanager
async def deployed(
    url: URL, data_dir: Path, *, webhook: bool, tg: FakeTelegram | None = None, **overrides: Any
) -> AsyncIterator[Deployed]:
    """The bot in webhook or polling mode with its HTTP server on a free port."""
    async with FakeTelegram() if tg is None else _borrowed(tg) as fake:
        settings = bot_settings(
            fake.url,
            data_dir,
            url,
            webhook_url=WEBHOOK_URL,
            webhook_secret=SecretStr(SECRET),
            webhook_listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            **overrides,
        )
        app = build_application(settings)
        async with (
            running(app, settings, webhook=webhook) as server,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
        ):
            yield Deployed(fake, app, settings, server, http)


@asynccontextmanager
async def _borrowed(tg: FakeTelegram) -> AsyncIterator[FakeTelegram]:
    yield tg


@pytest.fixture
async def db(tmp_path: Path) -> URL:
    """A migrated, seeded SQLite database."""
    return await migrated_sqlite(tmp_path / "bot.db")


@pytest.fixture
async def hooked(db: URL, tmp_path: Path) -> AsyncIterator[Deployed]:
    """The bot in webhook mode."""
    async with deployed(db, tmp_path / "data", webhook=True) as bot:
        yield bot
