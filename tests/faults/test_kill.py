"""``dumpin bot`` killed with SIGKILL under load and started again: Telegram redelivers what
was not confirmed, nothing is recorded twice and no photo goes unanswered."""

from __future__ import annotations

import signal
from pathlib import Path

from bench.botproc import (
    BenchTelegram,
    BotProcess,
    add_users,
    database,
    scalar,
    stop_mid_burst,
)
from tests.faults.conftest import answered, until

USERS = 10
PHOTOS = 60


async def test_sigkill_mid_load(tmp_path: Path, photos: list[bytes]) -> None:
    async with database("sqlite", tmp_path) as url, BenchTelegram() as tg:
        ids = list(range(7000, 7000 + USERS))
        await add_users(url, ids)
        bot = BotProcess(tg.url, url, tmp_path)
        await bot.start()
        try:
            await tg.wait_for("getUpdates", timeout=60)
            sent = await stop_mid_burst(tg, bot, photos, ids, signal.SIGKILL, PHOTOS)
            await until(lambda: all(answered(tg, s) for s in sent), 45, "every photo answered")
        finally:
            await bot.stop()
        rows = await scalar(url, "SELECT COUNT(*) FROM users_predictions")
        distinct = await scalar(url, "SELECT COUNT(DISTINCT update_id) FROM users_predictions")
    assert rows == distinct == PHOTOS
