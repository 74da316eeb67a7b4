"""How the bot takes updates in: confirmed to Telegram only once handled, concurrently across
chats, in order within a chat."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import JSONDict, ODVInput, TimePeriod
from telegram.ext import BaseUpdateProcessor, ExtBot

log = logging.getLogger(__name__)

REFILL_BELOW = 32
"""Poll for more only once fewer updates than this are in flight: each poll sends back every
update not yet confirmed, so polling a full batch again and again only re-reads it."""
POLL_AGAIN_SECONDS = 0.02
"""While updates are being handled, poll again as soon as one of them is done (the poll then
also confirms it), or after a pause: polling at once would only send back the updates in
flight, and a new update waits on Telegram's side until the next poll. The pause is as long
as it has been since the last new update, at least this (while updates keep coming) and at
most ``IDLE_WAIT_SECONDS``."""
IDLE_WAIT_SECONDS = 0.25
"""The longest pause: a bot holding updates while nobody writes polls 4 times a second. With
this pause always, texts in mixed traffic waited it out behind photos being classified (most
of their p95 of 210-240 ms in bench/bot_load.py)."""
HOLD_SECONDS = 300.0
"""An update still unhandled after this long is confirmed anyway (a stuck handler must not
stop the bot taking updates)."""
HOLD_CHECK_SECONDS = 5.0
"""How often held updates are checked against ``HOLD_SECONDS`` while the bot is full."""
UNLIMITED = 1_000_000
CONCURRENT_UPDATES = 16
"""Updates the bot handles at once (each may hold a database connection)."""
CHAT_BACKLOG = 20
"""Updates of one chat the bot holds at once (two full albums). A chat sending more while
they are answered has the rest skipped, and is told so, rather than make everyone wait."""
SKIP_QUIET_SECONDS = 3.0
"""A chat past its backlog is skipped until it has sent nothing for this long (and its held
updates are answered): a flood fetched in several batches gets one notice, not one per
batch with answers in between."""


class InFlight:
    """Updates taken in and not yet done with.

    An update is done once its handlers returned and nothing holds it any more (the photos
    of an album are held until the album's reply is sent). Only then may it be confirmed to
    Telegram (polling) or answered 200 (webhook): a crash before loses nothing.
    """

    def __init__(self) -> None:
        self._since: dict[int, float] = {}
        self._holds: dict[int, int] = {}
        self._handled: set[int] = set()
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self.progress = asyncio.Event()
        """Set whenever an update is done (cleared by whoever waits for progress)."""

    def __len__(self) -> int:
        return len(self._since)

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._since

    def oldest(self) -> int | None:
        """The lowest update id still in flight."""
        return min(self._since, default=None)

    def take(self, update_id: int) -> None:
        """The update entered the bot."""
        self._since.setdefault(update_id, time.monotonic())

    def hold(self, update_id: int) -> Callable[[], None]:
        """Keep the update in flight after its handlers return, until the returned function
        is called (once; later calls do nothing)."""
        if update_id not in self._since:
            return lambda: None
        self._holds[update_id] = self._holds.get(update_id, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._holds.get(update_id, 1) - 1
            if left > 0:
                self._holds[update_id] = left
                return
            self._holds.pop(update_id, None)
            if update_id in self._handled:
                self._finish(update_id)

        return release

    def handled(self, update_id: int) -> None:
        """The update's handlers returned (answered or failed)."""
        if update_id not in self._since:
            return
        if self._holds.get(update_id):
            self._handled.add(update_id)
        else:
            self._finish(update_id)

    def _finish(self, update_id: int) -> None:
        self._since.pop(update_id, None)
        self._holds.pop(update_id, None)
        self._handled.discard(update_id)
        waiter = self._waiters.pop(update_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.progress.set()

    def release_stuck(self, after: float) -> None:
        """Give up on updates in flight for longer than ``after`` seconds (a stuck handler
        must not stop the bot taking updates)."""
        now = time.monotonic()
        for stuck in [i for i, since in self._since.items() if now - since > after]:
            log.warning("update %s unhandled after %.0f s: confirmed anyway", stuck, after)
            self._finish(stuck)

    async def done(self, update_id: int) -> None:
        """Wait until the update is done with (at once if it is not in flight)."""
        if update_id not in self._since:
            return
        waiter = self._waiters.get(update_id)
        if waiter is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[update_id] = waiter
        await asyncio.shield(waiter)

    async def drained(self, seconds: float) -> bool:
        """Wait until nothing is in flight, ``seconds`` at most; whether it emptied."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while self._since:
                    self.progress.clear()
                    await self.progress.wait()
        return not self._since


class ConfirmingBot(ExtBot[None]):
    """``ExtBot`` whose ``getUpdates`` confirms an update only once the bot is done with it.

    PTB's updater confirms (``offset``) every update it fetched on its next poll, while they
    may still wait in the queue, so a crash lost them. Here the offset never passes the oldest
    update still in flight (:class:`InFlight`): Telegram redelivers it after a crash, and the
    copies it sends meanwhile are dropped. At most one batch (100 updates) is ever inside the
    bot. An update PTB cannot parse is logged and skipped; PTB would fetch it again forever.
    At a stop, :meth:`stop_taking` comes first, then the bot drains, then :meth:`confirm`:
    confirming before the drain made Telegram send again updates answered during it.
    """

    __slots__ = ("_last_new", "_newest", "_taking", "in_flight")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            self.in_flight = InFlight()
            self._newest = 0
            self._taking = True
            self._last_new = 0.0

    def handled(self, update_id: int) -> None:
        """The update's handlers returned (answered or failed)."""
        self.in_flight.handled(update_id)

    def stop_taking(self) -> None:
        """From now on ``getUpdates`` only confirms (PTB's last poll at a stop included)."""
        self._taking = False

    async def confirm(self) -> None:
        """Tell Telegram which updates are done with, taking no new one."""
        await self._post(
            "getUpdates", {"offset": self._offset(), "limit": 1, "timeout": 0}, read_timeout=10
        )

    def _offset(self) -> int | None:
        oldest = self.in_flight.oldest()
        if oldest is not None:
            return oldest
        return self._newest + 1 if self._newest else None

    async def _until_worth_polling(self) -> None:
        """Wait while a poll could only send back updates the bot already holds."""
        if self.in_flight:
            since_new = time.monotonic() - self._last_new
            await self._progress(min(max(since_new, POLL_AGAIN_SECONDS), IDLE_WAIT_SECONDS))
        while len(self.in_flight) >= REFILL_BELOW:
            await self._progress(HOLD_CHECK_SECONDS)
            self.in_flight.release_stuck(HOLD_SECONDS)

    async def _progress(self, at_most: float) -> None:
        """Wait until an update was done since the last poll or wait, or ``at_most`` s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.in_flight.progress.wait(), at_most)
        self.in_flight.progress.clear()

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
        of the oldest update still in flight. Once :meth:`stop_taking` was called, only
        confirms."""
        if not self._taking:
            await self.confirm()
            return ()
        waited = timeout.total_seconds() if isinstance(timeout, dtm.timedelta) else timeout or 0
        if waited:  # a long poll; PTB's last call at shutdown (timeout 0) only confirms
            await self._until_worth_polling()
        self.in_flight.release_stuck(HOLD_SECONDS)
        offset = self._offset()
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self.request.read_timeout
        self.in_flight.progress.clear()  # what is done from now on is progress after this poll
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
        if not self._taking:  # stopped during the poll: PTB drops what it returns
            return ()
        fresh: list[Update] = []
        newest = self._newest
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
            self.in_flight.take(update.update_id)
            self._newest = update.update_id
        if self._newest > newest:
            self._last_new = time.monotonic()
        return tuple(fresh)


@dataclass
class _Chat:
    """A chat's updates inside the bot."""

    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    held: int = 0
    """Its updates waiting for their turn or being handled."""
    skip_until: float = 0.0
    """Once it went past ``CHAT_BACKLOG``: its updates are skipped until it has none held
    and sent none for ``SKIP_QUIET_SECONDS`` (monotonic time)."""

    def skipping(self, now: float) -> bool:
        """Whether its updates are being skipped."""
        return self.skip_until > 0 and (self.held > 0 or now < self.skip_until)


class PerChatProcessor(BaseUpdateProcessor):
    """Up to ``max_concurrent_updates`` updates at once, but one at a time per chat, and at
    most ``CHAT_BACKLOG`` held per chat.

    PTB's ``SimpleUpdateProcessor`` runs a chat's updates concurrently, so two photos sent
    in a row could be answered in the other order (always, once Telegram answered a 429).
    The chat's turn is awaited before a slot is taken, so a chat flooding the bot waits for
    itself without holding the slots other chats need; the base class's own semaphore (taken
    first, and final in PTB) is therefore made wide enough never to be the limit.

    A chat past ``CHAT_BACKLOG`` still filled the bot's window of updates (polling takes no
    more once ``REFILL_BELOW`` are in flight) and kept every other chat waiting: one chat's
    hundreds of photos delayed another user's answer from 0.04 s to 6.3 s. Its further updates
    are now handled at once as skipped (:attr:`skipped`), until its held updates are answered
    and it stopped sending; handlers/backlog.py tells the user which ones to send again.
    """

    def __init__(self, max_concurrent_updates: int, chat_backlog: int = CHAT_BACKLOG) -> None:
        self._limit = UNLIMITED  # the base class sizes its semaphore from the property
        super().__init__(UNLIMITED)
        self._limit = max_concurrent_updates
        self.chat_backlog = chat_backlog
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._chats: dict[int, _Chat] = {}
        self.skipped: dict[int, bool] = {}
        """Update ids skipped for their chat's backlog, and whether each is the first of its
        burst (the one the user is told about)."""

    @property
    def max_concurrent_updates(self) -> int:
        """Updates handled at the same time at most."""
        return self._limit

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's previous updates, then for a free slot, then run the handlers;
        an update past the chat's backlog runs at once, marked as skipped."""
        chat_id = (
            update.effective_chat.id
            if isinstance(update, Update) and update.effective_chat
            else None
        )
        if chat_id is None:
            async with self._slots:
                await coroutine
            return
        assert isinstance(update, Update)
        now = time.monotonic()
        chat = self._chats.get(chat_id)
        if chat is None:
            self._forget_quiet(now)
            chat = self._chats[chat_id] = _Chat()
        skipping = chat.skipping(now)
        if skipping or chat.held >= self.chat_backlog:
            self.skipped[update.update_id] = not skipping
            chat.skip_until = now + SKIP_QUIET_SECONDS
            try:
                async with self._slots:
                    await coroutine
            finally:
                self.skipped.pop(update.update_id, None)
            return
        chat.held += 1
        try:
            async with chat.turn, self._slots:
                await coroutine
        finally:
            chat.held -= 1
            if chat.held == 0 and not chat.skipping(time.monotonic()):
                del self._chats[chat_id]

    def _forget_quiet(self, now: float) -> None:
        """Drop the chats that stopped being skipped (the others go when answered)."""
        for chat_id in [i for i, c in self._chats.items() if not c.held and not c.skipping(now)]:
            del self._chats[chat_id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
