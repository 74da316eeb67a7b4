"""Admin alerts: one Telegram message per admin, a plain HTTPS POST (the token never logged)."""

from __future__ import annotations

import logging

import aiohttp

from bot.settings import Settings, SettingsError

MAX_TEXT = 4000
log = logging.getLogger(__name__)


async def alert_admins(settings: Settings, text: str) -> int:
    """Send ``text`` to every admin through ``sendMessage``; returns how many got it."""
    if not settings.admins:
        return 0
    try:
        token = settings.token()
    except SettingsError:
        log.warning("no bot token: alert not sent to the admins")
        return 0
    url = f"{settings.telegram_api_url}/bot{token}/sendMessage"
    payload = {"text": text[:MAX_TEXT]}
    sent = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        for admin in sorted(settings.admins):
            try:
                async with http.post(url, json={**payload, "chat_id": admin}) as reply:
                    if reply.status == 200:
                        sent += 1
                    else:
                        log.warning("alert to admin %d refused: HTTP %d", admin, reply.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("alert to admin %d failed: %s", admin, type(exc).__name__)
    return sent
