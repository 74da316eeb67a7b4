"""Polling while updates are held in flight: new updates fetched soon, no busy re-polls,
other chats still served, also while one chat floods the bot."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from bot import updates
from bot.updates import CHAT_BACKLOG, IDLE_WAIT_SECONDS, ConfirmingBot
from tests.bot.conftest import BotHarness, photo_bytes
from tests.bot.test_conversation import first_val

FLOOD = 250


@dataclass
class Clock:
    """Virtual time."""

    now: float = 0.0

    def monotonic(self) -> float:
        return self.now


class ScriptedBot(ConfirmingBot):
    """``ConfirmingBot`` whose polls return ``updates`` (ids, all still unconfirmed, as
    Telegram sends them back) and whose waits only advance a virtual clock."""

    def __init__(self) -> None:
        super().__init__(token="1:scripted")
        with self._unfrozen():
            self.clock = Clock()
            self.updates: list[int] = []
            self.waits: list[float] = []

    async def _post(self, endpoint: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        return [{"update_id": i, "message": _text(i)} for i in self.updates]

    async def _progress(self, at_most: float) -> None:
        self.waits.append(at_most)  # nothing is done meanwhile: the whole pause passes
        self.clock.now += at_most

    async def poll(self) -> None:
        await self.get_updates(timeout=10)


def _text(update_id: int) -> dict[str, Any]:
    chat = {"id": 1, "type": "private", "first_name": "A"}
    return {"message_id": update_id, "date": 0, "chat": chat, "from": {**chat, "is_bot": False}}


async def test_new_updates_are_fetched_soon_while_others_are_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An update in flight keeps Telegram sending it back, so the bot cannot long-poll for
    new ones and pauses between polls; new updates wait out that pause. While they keep
    coming it is short (it was always 0.25 s: most of a text's p95 of 210-240 ms in the load
    bench's mixed traffic), and it grows back to ``IDLE_WAIT_SECONDS`` once nothing new
    comes."""
    bot = ScriptedBot()
    monkeypatch.setattr(updates, "time", bot.clock)
    bot.updates.append(1)
    await bot.poll()  # 1 taken in, held
    while bot.clock.now < 2.0:  # 2 s of polls bringing nothing new
        await bot.poll()
    assert bot.waits[0] <= 0.05
    assert bot.waits[-1] == IDLE_WAIT_SECONDS
    assert len(bot.waits) < 20  # not every 20 ms all along

    bot.waits.clear()
    for new in range(2, 12):  # a new update at each poll
        bot.updates.append(new)
        await bot.poll()
    await bot.poll()
    assert max(bot.waits[1:]) <= 0.05


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
    assert polls < 20  # ~2 s held: pauses grow to 0.25 s, not a poll every 20 ms


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
