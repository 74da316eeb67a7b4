"""Polling while updates are held in flight: no busy re-polls, other chats still served,
also while one chat floods the bot."""

from __future__ import annotations

import asyncio

from bot.updates import CHAT_BACKLOG
from tests.bot.conftest import BotHarness, photo_bytes
from tests.bot.test_conversation import first_val

FLOOD = 250


async def test_held_update_neither_floods_polls_nor_holds_up_others(bot: BotHarness) -> None:
    tg = bot.tg
    slow, quick = tg.user(1301), tg.user(1302)
    tg.slow("getFile", 2.0, times=1)
    photo = await tg.send_photo(slow, photo_bytes(first_val("verre")))
    await asyncio.sleep(0.3)  # the photo is taken in and waits for its download
    polls_before = len(tg.requests("getUpdates"))

    help_reply = await bot.reply(await tg.send_text(quick, "bonjour"))
    answer = await bot.reply(photo)

    assert help_reply.seq < answer.seq  # answered while the photo was still held
    polls = len(tg.requests("getUpdates")) - polls_before
    assert polls < 20  # ~2 s held: a poll per finished update or per 0.25 s, not every 20 ms


async def test_a_flooding_chat_does_not_hold_up_the_others(bot: BotHarness) -> None:
    """A chat with hundreds of photos queued: the bot answers the first ones in order (about
    ``CHAT_BACKLOG``, the most it holds at once), tells the user once, quoting the first photo
    skipped, and answers another user's photo queued behind them (it waited 18-30 s for the
    whole flood before, 2-5 s now: bench/delivery.py)."""
    tg = bot.tg
    flooding, other = tg.user(1311), tg.user(1312)
    photo = photo_bytes(first_val("verre"), size=(80, 60))  # no thumbnails: cheap to queue
    flood = [await tg.send_photo(flooding, photo) for _ in range(FLOOD)]
    theirs = await tg.send_photo(other, photo)

    await bot.reply(theirs)
    await tg.wait_delivered(timeout=60)
    replies = [r for r in tg.requests("sendMessage") if r.ok and r.params["chat_id"] == flooding.id]
    [notice] = [r for r in replies if "renvoyez-les" in r.params["text"]]
    answered = [r.params["reply_parameters"]["message_id"] for r in replies if r is not notice]
    taken = len(answered)
    assert answered == [s.message_id for s in flood[:taken]]
    assert CHAT_BACKLOG <= taken < FLOOD // 2
    assert notice.params["reply_parameters"]["message_id"] == flood[taken].message_id
