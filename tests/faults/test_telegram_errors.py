"""Telegram answering 429 with ``retry_after`` and bursts of 5xx: every reply still arrives,
in order in each chat, and none twice when a 5xx came after the message was sent."""

from __future__ import annotations

from tests.bot.conftest import BotHarness
from tests.faults.conftest import answered, until


async def test_429_and_5xx_bursts(sqlite_bot: BotHarness, photos: list[bytes]) -> None:
    tg = sqlite_bot.tg
    users = [tg.user(6100 + i) for i in range(3)]
    tg.fail_next("sendMessage", times=3, status=429, retry_after=1)
    tg.fail_next("getUpdates", times=2, status=502)
    tg.fail_next("getFile", times=2, status=503)
    tg.fail_next("file", times=2, status=500)
    sent = [
        await tg.send_photo(user, photos[(i + j) % len(photos)])
        for i in range(4)
        for j, user in enumerate(users)
    ]
    await until(lambda: all(answered(tg, s) for s in sent), 45, "an answer to every photo")
    assert all(len(answered(tg, s)) == 1 for s in sent)
    for user in users:
        mine = [s.message_id for s in sent if s.chat_id == user.id]
        replies = [
            r.params["reply_parameters"]["message_id"]
            for r in tg.requests("sendMessage")
            if r.ok and r.params["chat_id"] == user.id
        ]
        assert replies == mine, "replies out of order"
    statuses = {r.status for r in tg.requests()}
    assert {429, 500, 502, 503} <= statuses


async def test_5xx_after_an_answer_was_sent_sends_it_once(
    sqlite_bot: BotHarness, photos: list[bytes]
) -> None:
    """A gateway answering 502 to a ``sendMessage`` Telegram carried out: the user gets the
    answer once (it was retried, so twice), then an apology, as the bot cannot know."""
    tg = sqlite_bot.tg
    user = tg.user(6110)
    tg.fail_next("sendMessage", status=502, after=True)
    sent = await tg.send_photo(user, photos[0])
    await tg.wait_for("sendMessage", lambda r: r.params.get("chat_id") == user.id, count=2)
    quoting = [m for m in tg.messages(user) if m.get("reply_to_message")]
    assert [m["reply_to_message"]["message_id"] for m in quoting] == [sent.message_id]
