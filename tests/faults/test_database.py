"""The database goes away under the bot and comes back: users are asked to retry meanwhile,
confirmed answers survive, service resumes by itself. A database fault that is no outage
(a table gone) is reported as an error instead.

MariaDB: the bot's account is locked and its connections are killed (``KILL <id>``), which
leaves the shared server alone. SQLite: another connection holds the write lock for longer
than the bot's busy timeout (15 s).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import URL

from bench.botproc import add_users, scalar
from tests.bot.conftest import ADMIN_ID, BotHarness, buttons, start_bot
from tests.faults.conftest import quoting
from tests.mysql import admin_url

RETRY = "⏳"


@contextmanager
def bot_account(url: URL) -> Iterator[tuple[URL, str]]:
    """A MariaDB account of the bot's own, on ``url``'s database (dropped afterwards)."""
    name = f"dumpin_f{uuid.uuid4().hex[:8]}"
    admin = create_sync_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY 'pw'"))
        db.execute(text(f"GRANT ALL ON `{url.database}`.* TO '{name}'@'127.0.0.1'"))
    try:
        yield url.set(username=name, password="pw", host="127.0.0.1"), name
    finally:
        with admin.connect() as db:
            db.execute(text(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'"))
        admin.dispose()


def mysql_outage(name: str, down: bool) -> None:
    """Lock the account and kill its connections, or unlock it."""
    admin = create_sync_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f"ALTER USER '{name}'@'127.0.0.1' ACCOUNT {'LOCK' if down else 'UNLOCK'}"))
        if down:
            ids = db.execute(
                text("SELECT id FROM information_schema.processlist WHERE user = :u"), {"u": name}
            ).scalars()
            for connection_id in list(ids):
                db.execute(text(f"KILL {int(connection_id)}"))
    admin.dispose()


def sqlite_lock(path: str) -> sqlite3.Connection:
    """A connection holding the write lock: the bot's writes fail after its busy timeout."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def test_database_outage(migrated_url: URL, tmp_path: Path, photos: list[bytes]) -> None:
    mysql = migrated_url.get_backend_name() != "sqlite"
    with bot_account(migrated_url) if mysql else nullcontext_url(migrated_url) as (url, name):
        async for bot in start_bot(url, tmp_path / "data"):
            tg = bot.tg
            user = tg.user(6300)
            await add_users(migrated_url, [user.id])
            await confirm(bot, await tg.send_photo(user, photos[0]))
            holder = None
            if mysql:
                await asyncio.to_thread(mysql_outage, name, True)
            else:
                holder = await asyncio.to_thread(sqlite_lock, str(url.database))
            try:
                sent = await tg.send_photo(user, photos[1])
                [retry] = await tg.wait_for(
                    "sendMessage", lambda r: RETRY in r.params.get("text", ""), timeout=30
                )
                assert retry.params["chat_id"] == user.id and bot.app.running
                assert not [r for r in tg.requests("sendMessage") if quoting(sent)(r)]
            finally:
                if holder is not None:
                    holder.close()
                if mysql:
                    await asyncio.to_thread(mysql_outage, name, False)
            await confirm(bot, await tg.send_photo(user, photos[2]))
    confirmed = await scalar(
        migrated_url, "SELECT COUNT(*) FROM users_predictions WHERE confirmed_at IS NOT NULL"
    )
    assert confirmed == 2


async def confirm(bot: BotHarness, sent: object) -> None:
    """Wait for the answer to a photo, confirm it (✅ or a top-3 choice), wait for thanks."""
    tg = bot.tg
    [answer] = await tg.wait_for("sendMessage", quoting(sent), timeout=20)  # type: ignore[arg-type]
    ok = next(b for b in buttons(answer.result) if b.startswith(("ok:", "set:")))
    pressed = await tg.press_button(tg.user(answer.params["chat_id"]), answer.result, ok)
    assert (await bot.answer_of(pressed))["text"] == "Merci !"


@contextmanager
def nullcontext_url(url: URL) -> Iterator[tuple[URL, str]]:
    """The SQLite URL as is."""
    yield url, ""


async def test_database_fault_is_not_an_outage(
    bot: BotHarness, migrated_url: URL, photos: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """A table gone (a botched migration) is a fault to fix, not a moment of unavailability:
    the user gets an apology (not "try again in a moment"), the log a traceback, the admins
    an alert; once the table is back, photos are answered again."""
    tg = bot.tg
    user = tg.user(6310)
    await add_users(migrated_url, [user.id])
    tg.user(ADMIN_ID)
    await asyncio.to_thread(rename_table, migrated_url, "users_predictions", "moved_away")
    try:
        reply = await bot.reply(await tg.send_photo(user, photos[0]))
    finally:
        await asyncio.to_thread(rename_table, migrated_url, "moved_away", "users_predictions")
    assert reply.params["text"].startswith("😕") and RETRY not in reply.params["text"]
    [logged] = [r for r in caplog.records if r.name == "dumpin.errors"]
    assert logged.levelname == "ERROR" and logged.exc_info is not None
    [alert] = [r for r in tg.requests("sendMessage") if r.params["chat_id"] == ADMIN_ID]
    assert "Error" in alert.params["text"]
    await confirm(bot, await tg.send_photo(user, photos[1]))


def rename_table(url: URL, old: str, new: str) -> None:
    """``ALTER TABLE old RENAME TO new`` from outside the bot."""
    sync_url = url.set(
        drivername="sqlite" if url.get_backend_name() == "sqlite" else "mysql+pymysql"
    )
    engine = create_sync_engine(sync_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
    engine.dispose()
