"""Telegram 429/5xx and a database outage: the bot backs off, answers, and keeps running."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from db.session import create_engine, session_factory
from tests.bot.conftest import BotHarness, photo_bytes
from tests.bot.test_conversation import first_val


async def test_429_and_5xx_are_retried_where_safe(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(4001)
    tg.fail_next("sendMessage", times=1, status=429, retry_after=1)
    tg.fail_next("getFile", times=2, status=502)
    tg.fail_next("file", times=1, status=503)
    await tg.send_photo(user, photo_bytes(first_val("verre")))
    [reply] = await tg.wait_for("sendMessage", lambda r: r.ok, timeout=30)
    assert "🗑" in reply.params["text"]
    assert [r.status for r in tg.requests("sendMessage")] == [429, 200]
    assert [r.status for r in tg.requests("getFile")] == [502, 502, 200]
    assert [r.status for r in tg.requests("file")] == [503, 200]


async def test_database_outage_gets_retry_message_then_recovers(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(4002)
    healthy = bot.services.sessions
    down = create_engine(make_url("mysql+aiomysql://dumpin@127.0.0.1:1/dumpin"))
    bot.services.sessions = session_factory(down)
    try:
        reply = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
        assert "Réessayez dans un instant" in reply.params["text"]
    finally:
        bot.services.sessions = healthy
        await down.dispose()
    reply = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
    assert "🗑" in reply.params["text"]
