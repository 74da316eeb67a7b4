"""``dumpin bot`` killed with SIGKILL under load and started again: Telegram redelivers what
was not confirmed, nothing is recorded twice and no photo goes unanswered."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from bench.botproc import BenchTelegram, BotProcess, add_users, database, scalar
from tests.faults.conftest import answered, until

USERS = 10
PHOTOS = 60


async def test_sigkill_mid_load(tmp_path: Path, photos: list[bytes]) -> None:
    async with database("sqlite", tmp_path) as url, BenchTelegram() as tg:
        ids = list(range(7000, 7000 + USERS))
        await add_users(url, ids)
        users = [tg.user(uid) for uid in ids]
        bot = BotProcess(tg.url, url, tmp_path)
        await bot.start()
        try:
            await tg.wait_for("getUpdates", timeout=60)
            sent = []
            for i in range(PHOTOS):
                sent.append(await tg.send_photo(users[i % USERS], photos[i % len(photos)]))
                if i == PHOTOS // 2:  # answers are coming and a burst is in flight: kill
                    await until(lambda: len(tg.requests("sendMessage")) >= 5, 30, "answers")
                    assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL
                    unanswered = sum(not answered(tg, s) for s in sent)
                    await bot.start()
                elif i < PHOTOS // 2 - 5:
                    await asyncio.sleep(0.02)
            await until(lambda: all(answered(tg, s) for s in sent), 45, "every photo answered")
        finally:
            await bot.stop()
        rows = await scalar(url, "SELECT COUNT(*) FROM users_predictions")
        distinct = await scalar(url, "SELECT COUNT(DISTINCT update_id) FROM users_predictions")
    assert unanswered > 0, "the kill came too late to test anything"
    assert rows == distinct == PHOTOS
