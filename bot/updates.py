"""How the bot takes updates in: confirmed to Telegram only once handled, concurrently across
chats, in order within a chat."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import JSONDict, ODVInput, TimePeriod
from telegram.ext import BaseUpdateProcessor, ExtBot

log = logging.getLogger(__name__)

REFILL_BELOW = 32
"""Poll for more only once fewer updates than this are in flight: each poll sends back every
update not yet confirmed, so polling a full batch again and again only re-reads it."""
IDLE_WAIT_SECONDS = 0.25
"""While updates are being handled, poll again as soon as one of them is done (the poll then
also confirms it), or after this long (new updates wait at most this much). Polling at once
would only send back the updates in flight."""
HOLD_SECONDS = 300.0
"""An update still unhandled after this long is confirmed anyway (a stuck handler must not
stop the bot taking updates)."""
HOLD_CHECK_SECONDS = 5.0
"""How often held updates are checked against ``HOLD_SECONDS`` while the bot is full."""
UNLIMITED = 1_000_000
CONCURRENT_UPDATES = 16
"""Updates the bot handles at once (each may hold a database connection)."""


class ConfirmingBot(ExtBot[None]):
    """``ExtBot`` whose ``getUpdates`` confirms an update only once the bot has handled it.

    PTB's updater confirms (``offset``) every update it fetched on its next poll, while they
    may still wait in the queue, so a crash lost them. Here the offset never passes the oldest
    update still being handled: Telegram redelivers it after a crash, and the copies it sends
    meanwhile are dropped. At most one batch (100 updates) is ever inside the bot. An update
    PTB cannot parse is logged and skipped; PTB would fetch it again forever.
    """

    __slots__ = ("_done", "_in_flight", "_newest")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            self._in_flight: dict[int, float] = {}
            self._newest = 0
            self._done = asyncio.Event()

    def handled(self, update_id: int) -> None:
        """The update is done with (answered or failed): it may be confirmed."""
        self._in_flight.pop(update_id, None)
        self._done.set()

    async def _until_worth_polling(self) -> None:
        """Wait while a poll could only send back updates the bot already holds."""
        if self._in_flight:
            await self._progress(IDLE_WAIT_SECONDS)
        while len(self._in_flight) >= REFILL_BELOW:
            await self._progress(HOLD_CHECK_SECONDS)
            self._release_stuck()

    async def _progress(self, at_most: float) -> None:
        """Wait until an update was handled since the last poll or wait, or ``at_most`` s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), at_most)
        self._done.clear()

    def _release_stuck(self) -> None:
        now = time.monotonic()
        for held in [i for i, since in self._in_flight.items() if now - since > HOLD_SECONDS]:
            log.warning("update %s unhandled after %.0f s: confirmed anyway", held, HOLD_SECONDS)
            del self._in_flight[held]

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,  # noqa: ASYNC109 (PTB's signature)
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> tuple[Update, ...]:
        """New updates only, unreadable ones dropped (and confirmed); the offset sent is that
        of the oldest update still being handled."""
        waited = timeout.total_seconds() if isinstance(timeout, dtm.timedelta) else timeout or 0
        if waited:  # a long poll; PTB's last call at shutdown (timeout 0) only confirms
            await self._until_worth_polling()
        self._release_stuck()
        if self._in_flight:
            offset = min(self._in_flight)
        elif self._newest:
            offset = self._newest + 1
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self.request.read_timeout
        self._done.clear()  # what is handled from now on is progress after this poll
        result = await self._post(
            "getUpdates",
            {
                "timeout": timeout,
                "offset": offset,
                "limit": limit,
                "allowed_updates": allowed_updates,
            },
            read_timeout=(read_timeout or 0) + waited,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        fresh: list[Update] = []
        for data in result:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if isinstance(update_id, int) and update_id <= self._newest:
                continue
            try:
                update = Update.de_json(data, self)
            except Exception as exc:
                log.warning("unreadable update %s dropped (%s)", update_id, exc)
                if isinstance(update_id, int):
                    self._newest = update_id
                continue
            self.insert_callback_data(update)
            fresh.append(update)
            self._in_flight[update.update_id] = time.monotonic()
            self._newest = update.update_id
        return tuple(fresh)


class PerChatProcessor(BaseUpdateProcessor):
    """Up to ``max_concurrent_updates`` updates at once, but one at a time per chat.

    PTB's ``SimpleUpdateProcessor`` runs a chat's updates concurrently, so two photos sent
    in a row could be answered in the other order (always, once Telegram answered a 429).
    The chat's turn is awaited before a slot is taken, so a chat flooding the bot waits for
    itself without holding the slots other chats need; the base class's own semaphore (taken
    first, and final in PTB) is therefore made wide enough never to be the limit.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        self._limit = UNLIMITED  # the base class sizes its semaphore from the property
        super().__init__(UNLIMITED)
        self._limit = max_concurrent_updates
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}

    @property
    def max_concurrent_updates(self) -> int:
        """Updates handled at the same time at most."""
        return self._limit

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's previous updates, then for a free slot, then run the handlers."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            async with self._slots:
                await coroutine
            return
        lock, waiting = self._chats.get(chat.id) or (asyncio.Lock(), 0)
        self._chats[chat.id] = (lock, waiting + 1)
        try:
            async with lock, self._slots:
                await coroutine
        finally:
            lock, waiting = self._chats[chat.id]
            if waiting == 1:
                del self._chats[chat.id]
            else:
                self._chats[chat.id] = (lock, waiting - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
