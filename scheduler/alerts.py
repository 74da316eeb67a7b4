"""Admin alerts: one Telegram message per admin, a plain HTTPS POST (the token never logged)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp

from bot.settings import Settings, SettingsError

MAX_TEXT = 4000
log = logging.getLogger(__name__)


async def alert_admins(settings: Settings, text: str | Callable[[int], str]) -> int:
    """Send ``text`` (or ``text(admin id)``, e.g. in each admin's language) to every admin
    through ``sendMessage``; returns how many got it."""
    if not settings.admins:
        return 0
    try:
        token = settings.token()
    except SettingsError:
        log.warning("no bot token: alert not sent to the admins")
        return 0
    url = f"{settings.telegram_api_url}/bot{token}/sendMessage"
    sent = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        for admin in sorted(settings.admins):
            body = text if isinstance(text, str) else text(admin)
            try:
                async with http.post(
                    url, json={"text": body[:MAX_TEXT], "chat_id": admin}
                ) as reply:
                    if reply.status == 200:
                        sent += 1
                    else:
                        log.warning("alert to admin %d refused: HTTP %d", admin, reply.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("alert to admin %d failed: %s", admin, type(exc).__name__)
    return sent
