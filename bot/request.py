"""HTTP requests to the Bot API that survive Telegram's 5xx bursts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({500, 502, 503, 504})


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
