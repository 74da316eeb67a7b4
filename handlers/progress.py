"""Progress feedback: "typing…" in the chat, only while an answer is slow to come."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import Message
from telegram.constants import ChatAction
from telegram.error import TelegramError

log = logging.getLogger(__name__)

TYPING_AFTER_SECONDS = 0.4
"""An answer faster than this needs no indicator (and spares a Bot API call per photo)."""
TYPING_EVERY_SECONDS = 4.5
"""Telegram shows a chat action for 5 s, or until the bot's next message."""

_sending: set[asyncio.Task[None]] = set()


@contextlib.asynccontextmanager
async def typing_while_slow(
    message: Message, after: float = TYPING_AFTER_SECONDS
) -> AsyncIterator[None]:
    """Show "typing…" in the message's chat if the work inside lasts longer than ``after``.

    The indicator is renewed until the work is done; a request already on its way is left to
    finish (cancelling it would cost the connection).
    """
    done = asyncio.Event()

    async def indicate() -> None:
        while not done.is_set():
            try:
                await message.reply_chat_action(ChatAction.TYPING)
            except TelegramError:
                log.debug("chat action not sent", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), TYPING_EVERY_SECONDS)

    def start() -> None:
        task = asyncio.create_task(indicate())
        _sending.add(task)
        task.add_done_callback(_sending.discard)

    timer = asyncio.get_running_loop().call_later(after, start)
    try:
        yield
    finally:
        timer.cancel()
        done.set()
