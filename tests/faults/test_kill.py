"""``dumpin bot`` killed with SIGKILL under load and started again, polling or behind a
webhook: Telegram sends again what was not confirmed (polling) or not answered 200 (webhook),
nothing is recorded twice and no photo goes unanswered. Behind a webhook answering 200 on
queueing, 17-25 of 60 photos were lost (bench/delivery.py)."""

from __future__ import annotations

import signal
from contextlib import nullcontext
from pathlib import Path

import pytest

from bench.botproc import (
    BenchTelegram,
    BotProcess,
    add_users,
    database,
    scalar,
    stop_mid_burst,
    webhook_process,
)
from tests.fake_telegram import delivering
from tests.faults.conftest import answered, until

USERS = list(range(7000, 7010))
PHOTOS = 60


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_sigkill_mid_load(tmp_path: Path, photos: list[bytes], webhook: bool) -> None:
    async with database("sqlite", tmp_path) as url, BenchTelegram() as tg:
        await add_users(url, USERS)
        if webhook:
            bot, target = webhook_process(tg.url, url, tmp_path)
        else:
            bot = BotProcess(tg.url, url, tmp_path)
        async with delivering(tg, target) if webhook else nullcontext() as delivery:
            await bot.start()
            try:
                await tg.wait_for("setWebhook" if webhook else "getUpdates", timeout=60)
                sent = await stop_mid_burst(tg, bot, photos, USERS, signal.SIGKILL, PHOTOS)
                await until(lambda: all(answered(tg, s) for s in sent), 60, "every photo answered")
            finally:
                await bot.stop()
        rows = await scalar(url, "SELECT COUNT(*) FROM users_predictions")
        distinct = await scalar(url, "SELECT COUNT(DISTINCT update_id) FROM users_predictions")
    assert rows == distinct == PHOTOS
    if delivery is not None:
        assert any(d.status is None for d in delivery.deliveries), "no delivery cut by the kill"
