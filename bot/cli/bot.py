"""``dumpin bot``: run the Telegram bot with long polling."""

from __future__ import annotations

import argparse
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.app import build_application
from bot.errors import DumpinError
from bot.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``bot``."""
    parser = subparsers.add_parser("bot", help="run the Telegram bot (long polling)")
    parser.set_defaults(func=_run)


def _run(_args: argparse.Namespace, settings: Settings) -> int:
    app = build_application(settings)
    try:
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    except InvalidToken:
        raise DumpinError(
            "Telegram rejected DUMPIN_TELEGRAM_TOKEN: check it with @BotFather"
        ) from None
    except NetworkError as exc:
        raise DumpinError(
            f"cannot reach the Bot API at {settings.telegram_api_url}: {exc}"
        ) from None
    return 0
