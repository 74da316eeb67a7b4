"""HTTP requests to the Bot API: aiohttp transport, 5xx bursts retried where a repeat is
harmless, messages rate-limited."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import certifi
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.ext import AIORateLimiter
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({500, 502, 503, 504})
SAFE_TO_REPEAT = frozenset(
    name.lower()
    for name in (
        # reads
        "getUpdates",
        "getFile",
        "getMe",
        "getChat",
        "getWebhookInfo",
        "getMyCommands",
        # set a state to a value: the same value twice is that state
        "setWebhook",
        "deleteWebhook",
        "setMyCommands",
        "deleteMyCommands",
        "setMyDescription",
        "setMyShortDescription",
        "setMyName",
        "setChatMenuButton",
        # an edit to the same content is refused as "not modified", which handlers ignore
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        # shown for 5 s whatever the count
        "sendChatAction",
        # Telegram takes one answer per query: a second cannot show a second notice
        "answerCallbackQuery",
    )
)
"""Bot API methods retried after a 5xx answer: a 502 or 504 may come after Telegram did the
work, so only calls whose repetition changes nothing are repeated. Messages are not: a
``sendMessage`` retried after such an answer sent the user the answer twice. File downloads
(GET) are reads and always retried; a 429 is always retried (by the rate limiter), as
Telegram refused the call without doing it."""
NOT_MESSAGES = frozenset({"sendChatAction"})
"""Calls with a ``chat_id`` that are not messages, so not under the overall message limit."""


def _seconds(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """Bot API requests over one aiohttp session, retrying 5xx answers with backoff when the
    call is safe to repeat (``SAFE_TO_REPEAT``).

    Replaces PTB's ``HTTPXRequest``: httpcore checks every pooled socket for readability
    (two system calls each) on each request, which cost 1.9 ms of event loop per request
    against 0.24 ms here (BENCHMARKS.md). 429 answers are left to PTB's ``AIORateLimiter``,
    which honours ``retry_after``. aiohttp has no write timeout of its own, so the sum of
    the four timeouts bounds the whole request (a stalled upload included).
    """

    def __init__(
        self,
        *,
        connection_pool_size: int = 8,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        retries: int = 5,
        backoff: float = 0.5,
    ) -> None:
        self.pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self.retries = retries
        self.backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """Default seconds to wait for an answer."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the connection pool (inside the running event loop, as aiohttp requires)."""
        if self._session is None or self._session.closed:
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size, ssl=tls),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the pool's connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send the request, again after a pause while Telegram answers 5xx to a call that is
        safe to repeat."""
        connect = _seconds(connect_timeout, self.connect_timeout)
        waiting = _seconds(pool_timeout, self.pool_timeout)
        read = _seconds(read_timeout, self._read_timeout)
        steps = (waiting, connect, _seconds(write_timeout, self.write_timeout), read)
        limits = aiohttp.ClientTimeout(
            total=None if None in steps else sum(s for s in steps if s is not None),
            connect=None if connect is None or waiting is None else connect + waiting,
            sock_connect=connect,
            sock_read=read,
        )
        retries = self.retries if _safe_to_repeat(url, method) else 0
        for attempt in range(retries + 1):
            status, payload = await self._send(url, method, request_data, limits)
            if status not in RETRIED_STATUSES or attempt == retries:
                return status, payload
            delay = self.backoff * 2**attempt
            log.warning("Bot API answered %s, retrying in %.1fs", status, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _send(
        self,
        url: str,
        method: str,
        request_data: RequestData | None,
        limits: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes]:
        await self.initialize()
        assert self._session is not None
        try:
            body = _body(request_data)
            async with self._session.request(
                method,
                url,
                data=body,
                headers=JSON_BODY if isinstance(body, bytes) else None,
                timeout=limits,
                proxy=_proxy_for(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut(f"Bot API request timed out ({type(err).__name__})") from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


def _safe_to_repeat(url: str, http_method: str) -> bool:
    """Whether the call at ``url`` may be sent again after a 5xx answer."""
    path = urllib.parse.urlsplit(url).path
    if http_method == "GET" and "/file/bot" in path:
        return True
    return path.rpartition("/")[2].lower() in SAFE_TO_REPEAT


def _proxy_for(url: str) -> str | None:
    """The proxy ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` set for ``url``'s server."""
    parts = urllib.parse.urlsplit(url)
    return _env_proxy(parts.scheme, parts.hostname or "")


@functools.lru_cache(maxsize=16)
def _env_proxy(scheme: str, host: str) -> str | None:
    """Read once per server: aiohttp's ``trust_env`` re-reads the environment and ``.netrc``
    on every request (1 ms each)."""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


JSON_BODY = {"Content-Type": "application/json"}


def _body(request_data: RequestData | None) -> aiohttp.FormData | bytes | None:
    """The parameters as a JSON object of strings, as multipart when the request uploads files.

    PTB gives every parameter as a string (objects already JSON-encoded), and the Bot API
    server reads a JSON object's string values exactly as form fields
    (``td::HttpReader::parse_json_parameters``: strings decoded, anything else kept as its JSON
    text), so Telegram receives the same parameters. ``urllib.parse.urlencode`` quoted every
    byte of a message in Python: 0.08–0.2 ms for a card of 500 characters, five times what
    ``json.dumps`` takes (BENCHMARKS.md, "Text answers").
    """
    if request_data is None:
        return None
    if not request_data.contains_files:
        return json.dumps(
            request_data.json_parameters, ensure_ascii=False, separators=(",", ":")
        ).encode()
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


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
