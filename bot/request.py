"""HTTP requests to the Bot API: 5xx bursts retried, outgoing messages rate-limited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({500, 502, 503, 504})
NOT_MESSAGES = frozenset({"sendChatAction"})
"""Calls with a ``chat_id`` that are not messages, so not under the overall message limit."""


class RetryingRequest(HTTPXRequest):
    """``HTTPXRequest`` that retries 5xx answers with exponential backoff.

    429 answers are left to PTB's ``AIORateLimiter``, which honours ``retry_after``.
    """

    def __init__(self, *args: Any, retries: int = 5, backoff: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retries = retries
        self.backoff = backoff

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Send the request, again after a pause while Telegram answers 5xx."""
        for attempt in range(self.retries + 1):
            status, payload = await super().do_request(*args, **kwargs)
            if status not in RETRIED_STATUSES or attempt == self.retries:
                return status, payload
            delay = self.backoff * 2**attempt
            log.warning("Bot API answered %s, retrying in %.1fs", status, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")


class MessageRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` whose overall limit counts messages only.

    The stock limiter counts every call with a ``chat_id``, so the "typing…" action before
    each answer used half of the 30 per second and capped the bot at 15 photos/s.
    ``retry_after`` from 429 answers is still honoured for every call.
    """

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Throttle messages; let chat actions through (still retried after a 429)."""
        if endpoint in NOT_MESSAGES:
            data = {key: value for key, value in data.items() if key != "chat_id"}
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
