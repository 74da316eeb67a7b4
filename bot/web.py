"""The bot's HTTP side (aiohttp): Telegram's webhook, ``/healthz`` and ``/metrics``.

:func:`running` starts the application in either mode, polling or webhook, together with
this server, and stops everything in reverse order.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias, cast
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.errors import DumpinError
from bot.metrics import metrics
from bot.services import Services
from bot.settings import Settings, SettingsError
from bot.updates import ConfirmingBot

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_TIMEOUT_SECONDS = 5.0
WEBHOOK_BACKLOG = 100
"""Updates the webhook holds at once (taken, not yet done with), as polling holds at most one
batch; past it Telegram is answered 503 and sends the update again later."""
RECENT_UPDATES = 1000
"""Update ids the webhook remembers as done: a copy Telegram sends again is answered 200 at
once instead of being handled twice."""
DRAIN_SECONDS = 8.0
"""At a stop, how long the updates in flight get to be answered (Docker waits 10 s before it
kills); what is left is sent again by Telegram to the next start."""

AnyApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class Health:
    """The answer of ``/healthz``."""

    ok: bool
    detail: dict[str, str]


async def check_health(application: AnyApplication) -> Health:
    """Healthy when the bot runs, a model is loaded and the database answers ``SELECT 1``."""
    if not application.running:
        return Health(False, {"status": "unavailable", "reason": "bot not running"})
    services = cast(Services, application.bot_data["services"])
    try:
        version = services.classifier.version
    except Exception as exc:
        return Health(False, {"status": "unavailable", "reason": f"no model ({exc})"})
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), services.engine.connect() as db:
            await db.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        reason = f"database unreachable ({type(exc).__name__})"
        return Health(False, {"status": "unavailable", "reason": reason})
    return Health(True, {"status": "ok", "model": version})


class _Routes:
    """Request handlers bound to one application."""

    def __init__(self, application: AnyApplication, secret: str | None) -> None:
        self.application = application
        self.secret = (secret or "").encode()
        self.intake = WebhookIntake(application)

    async def healthz(self, _request: web.Request) -> web.Response:
        health = await check_health(self.application)
        return web.json_response(health.detail, status=200 if health.ok else 503)

    async def metrics(self, _request: web.Request) -> web.Response:
        body = metrics(self.application.bot_data).render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode(errors="replace")
        if not hmac.compare_digest(given, self.secret):
            log.warning("webhook: request without the right secret token refused")
            return web.json_response({"error": "forbidden"}, status=403)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.json_response({"error": "body too large"}, status=413)
        if request.content_type != "application/json":
            return web.json_response({"error": "expected application/json"}, status=415)
        body = await request.read()  # raises 413 past client_max_size (chunked bodies)
        try:
            data: Any = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not a Telegram update")
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:
            log.warning("webhook: bad update refused (%s)", type(exc).__name__)
            return web.json_response({"error": "not a Telegram update"}, status=400)
        if not await self.intake.deliver(update):
            return web.json_response({"error": "busy, send it again later"}, status=503)
        return web.Response()


class WebhookIntake:
    """Hands webhook updates to the bot and says when one is done with.

    Telegram is answered 200 only then: answering once the update was queued, as PTB does,
    lost every queued update in a crash. Past ``WEBHOOK_BACKLOG`` updates in flight, or once
    the bot is stopping, the answer is 503 and Telegram sends the update again later.
    """

    def __init__(self, application: AnyApplication) -> None:
        self.application = application
        self.open = True
        self._recent: OrderedDict[int, None] = OrderedDict()

    async def deliver(self, update: Update) -> bool:
        """Handle ``update`` (or join its copy already in flight); False to refuse it."""
        in_flight = cast(ConfirmingBot, self.application.bot).in_flight
        update_id = update.update_id
        if update_id in self._recent:
            return True
        if update_id not in in_flight:
            if not self.open or len(in_flight) >= WEBHOOK_BACKLOG:
                return False
            in_flight.take(update_id)
            await self.application.update_queue.put(update)
        await in_flight.done(update_id)
        self._recent[update_id] = None
        if len(self._recent) > RECENT_UPDATES:
            self._recent.popitem(last=False)
        return True


INTAKE = web.AppKey("intake", WebhookIntake)


def build_web_app(
    application: AnyApplication, *, webhook_path: str | None = None, secret: str | None = None
) -> web.Application:
    """``/healthz``, ``/metrics`` and, given a path and secret, Telegram's webhook (its
    :class:`WebhookIntake` in ``app[INTAKE]``)."""
    routes = _Routes(application, secret)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[INTAKE] = routes.intake
    app.router.add_get("/healthz", routes.healthz)
    app.router.add_get("/metrics", routes.metrics)
    if webhook_path is not None:
        if not secret:
            raise ValueError("a webhook needs a secret token")
        app.router.add_post(webhook_path, routes.webhook)
    return app


def split_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (``[::]:8080`` for IPv6) as ``(host, port)``."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Server:
    """The running HTTP server: its address (the real port when 0 was asked)."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """``http://host:port`` for clients on this machine."""
        host = "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host
        return f"http://{host}:{self.port}"


def webhook_settings(settings: Settings) -> tuple[str, str]:
    """The public webhook URL and the secret token, or a one-line error naming what is missing."""
    if settings.webhook_url is None:
        raise SettingsError(
            "DUMPIN_WEBHOOK_URL is not set: the public https:// URL Telegram posts updates to"
        )
    if settings.webhook_secret is None:
        raise SettingsError(
            "DUMPIN_WEBHOOK_SECRET is not set: a random string of A-Z, a-z, 0-9, _ and - "
            "(e.g. openssl rand -hex 32)"
        )
    return settings.webhook_url, settings.webhook_secret.get_secret_value()


@asynccontextmanager
async def running(
    application: AnyApplication, settings: Settings, *, webhook: bool
) -> AsyncIterator[Server]:
    """Run the bot (webhook or polling) and the HTTP server until the block exits."""
    if webhook:
        url, secret = webhook_settings(settings)
        web_app = build_web_app(application, webhook_path=urlsplit(url).path or "/", secret=secret)
        listen = settings.webhook_listen
    else:
        web_app = build_web_app(application)
        listen = settings.http_listen
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5.0)
    server = await _serve(runner, listen)  # a busy port fails before Telegram is contacted
    try:
        await _initialize(application)
        try:
            if application.post_init is not None:
                await application.post_init(application)
            await application.start()
            if webhook:
                await application.bot.set_webhook(
                    url=url,
                    secret_token=secret,
                    allowed_updates=Update.ALL_TYPES,
                    drop_pending_updates=False,
                )
                log.info("webhook %s registered; listening on %s", url, server.url)
            else:
                assert application.updater is not None
                await application.updater.start_polling(
                    allowed_updates=Update.ALL_TYPES, drop_pending_updates=False
                )
                log.info("polling; /healthz and /metrics on %s", server.url)
            yield server
        finally:
            await _stop(application, web_app[INTAKE] if webhook else None)
    finally:
        await runner.cleanup()


async def _initialize(application: AnyApplication) -> None:
    """``application.initialize()``; when it fails (Telegram refusing the token, the Bot API
    unreachable) the HTTP sessions it opened are closed, not left to the garbage collector."""
    try:
        await application.initialize()
    except BaseException:
        await application.bot.shutdown()
        raise


async def _serve(runner: web.AppRunner, listen: str) -> Server:
    host, port = split_listen(listen)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise DumpinError(f"cannot listen on {listen}: {reason}") from None
    return Server(host, int(runner.addresses[0][1]))


async def _stop(application: AnyApplication, intake: WebhookIntake | None) -> None:
    """Stop what was started, newest first; the webhook stays registered for the next start.

    No update is taken any more, those in flight are answered (``DRAIN_SECONDS`` at most),
    and only then are they confirmed to Telegram: confirming first made Telegram send again,
    after the restart, the updates answered during the stop.
    """
    bot = cast(ConfirmingBot, application.bot)
    polling = application.updater is not None and application.updater.running
    if polling:
        assert application.updater is not None
        bot.stop_taking()
        await application.updater.stop()
    if intake is not None:
        intake.open = False
    if application.running:
        if not await bot.in_flight.drained(DRAIN_SECONDS):
            log.warning(
                "stopping with %d update(s) unanswered: Telegram sends them again",
                len(bot.in_flight),
            )
        if polling:
            await _confirm(bot)
        await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


async def _confirm(bot: ConfirmingBot) -> None:
    try:
        await bot.confirm()
    except TelegramError as exc:
        log.warning("could not confirm the last updates (%s): Telegram sends them again", exc)
