"""Polling while an update is held in flight: no busy re-polls, other chats still served."""

from __future__ import annotations

import asyncio

from tests.bot.conftest import BotHarness, photo_bytes
from tests.bot.test_conversation import first_val


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
