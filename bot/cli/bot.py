"""``dumpin bot``: run the Telegram bot (long polling, or a webhook with ``--webhook``)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from telegram.error import InvalidToken, NetworkError

from bot.app import build_application
from bot.errors import DumpinError
from bot.settings import Settings
from bot.web import running, webhook_settings


def register(subparsers: Any) -> None:
    """Add ``bot``."""
    parser = subparsers.add_parser(
        "bot",
        help="run the Telegram bot (long polling, or a webhook with --webhook)",
        description="Run the bot until SIGTERM or Ctrl-C. Polling mode serves /healthz and "
        "/metrics on DUMPIN_HTTP_LISTEN; webhook mode serves them with the webhook on "
        "DUMPIN_WEBHOOK_LISTEN.",
    )
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates on DUMPIN_WEBHOOK_URL (checked against DUMPIN_WEBHOOK_SECRET)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.webhook:
        webhook_settings(settings)  # a missing URL or secret is reported before connecting
    app = build_application(settings)
    try:
        asyncio.run(_serve(app, settings, webhook=args.webhook))
    except InvalidToken:
        raise DumpinError(
            "Telegram rejected DUMPIN_TELEGRAM_TOKEN: check it with @BotFather"
        ) from None
    except NetworkError as exc:
        raise DumpinError(
            f"cannot reach the Bot API at {settings.telegram_api_url}: {exc}"
        ) from None
    return 0


async def _serve(app: Any, settings: Settings, *, webhook: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(app, settings, webhook=webhook):
        await stop.wait()
