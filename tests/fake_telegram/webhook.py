"""Telegram's side of a webhook: pending updates are POSTed to the bot, each is dropped from
the queue once answered 200, and sent again later after any other answer, an error or no
answer at all (a bot killed mid-request)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from .updates import JSONDict

if TYPE_CHECKING:
    from .server import FakeTelegram

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Delivery:
    """One POST of an update: its status, or ``None`` when the bot did not answer."""

    update_id: int
    status: int | None


class WebhookDelivery:
    """Delivers ``tg``'s pending updates to ``target`` while a webhook is set."""

    def __init__(
        self, tg: FakeTelegram, target: str, *, connections: int = 40, retry_after: float = 0.2
    ) -> None:
        self.tg = tg
        self.target = target
        self.connections = connections
        self.retry_after = retry_after
        self.deliveries: list[Delivery] = []
        self._posting: set[int] = set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        tasks: set[asyncio.Task[None]] = set()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            try:
                while True:
                    changed = self.tg._changed
                    for update in self._due():
                        self._posting.add(update["update_id"])
                        task = asyncio.create_task(self._post(http, update))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), self.retry_after)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def _due(self) -> list[JSONDict]:
        """Pending updates not being posted, as many as free connections allow."""
        if not self.tg.webhook["url"]:
            return []
        waiting = [u for u in self.tg._updates if u["update_id"] not in self._posting]
        return waiting[: self.connections - len(self._posting)]

    async def _post(self, http: aiohttp.ClientSession, update: JSONDict) -> None:
        update_id = int(update["update_id"])
        headers = {SECRET_HEADER: str(self.tg.webhook.get("secret_token", ""))}
        status: int | None = None
        try:
            async with http.post(
                self.target, json=update, headers=headers, timeout=aiohttp.ClientTimeout(60)
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            pass
        self.deliveries.append(Delivery(update_id, status))
        if status == 200:
            self.tg._updates = [u for u in self.tg._updates if u["update_id"] != update_id]
        else:
            await asyncio.sleep(self.retry_after)
        self._posting.discard(update_id)
        self.tg._notify()


@asynccontextmanager
async def delivering(tg: FakeTelegram, target: str) -> AsyncIterator[WebhookDelivery]:
    """Deliver ``tg``'s updates to ``target`` inside the block."""
    delivery = WebhookDelivery(tg, target)
    task = asyncio.create_task(delivery.run())
    try:
        yield delivery
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
