"""``dumpin bot`` stopped with SIGTERM and started again: every photo is answered exactly
once, albums included (SIGKILL: test_kill.py). Before the stop drained its updates before
confirming them, 20-27 of 60 photos were answered twice after one SIGTERM, and an album's
reply was lost when the SIGTERM came in its quiet second (bench/delivery.py)."""

from __future__ import annotations

import asyncio
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

USER_IDS = list(range(7100, 7110))
PHOTOS = 60


async def test_sigterm_under_load_answers_every_photo_once(
    tmp_path: Path, photos: list[bytes]
) -> None:
    async with database("sqlite", tmp_path) as url, BenchTelegram() as tg:
        await add_users(url, USER_IDS)
        bot = BotProcess(tg.url, url, tmp_path)
        await bot.start()
        try:
            await tg.wait_for("getUpdates", timeout=60)
            sent = await stop_mid_burst(tg, bot, photos, USER_IDS, signal.SIGTERM, PHOTOS)
            await until(lambda: all(answered(tg, s) for s in sent), 60, "every photo answered")
            await tg.wait_delivered(timeout=30)  # copies sent again are handled by now
        finally:
            await bot.stop()
        rows = await scalar(url, "SELECT COUNT(*) FROM users_predictions")
    assert [len(answered(tg, s)) for s in sent] == [1] * PHOTOS
    assert rows == PHOTOS


async def test_sigterm_in_an_albums_quiet_second(tmp_path: Path, photos: list[bytes]) -> None:
    async with database("sqlite", tmp_path) as url, BenchTelegram() as tg:
        await add_users(url, [7200])
        user = tg.user(7200)
        bot = BotProcess(tg.url, url, tmp_path)
        await bot.start()
        try:
            await tg.wait_for("getUpdates", timeout=60)
            for data in photos[:3]:
                await tg.send_photo(user, data, media_group_id="quiet")
            await until_rows(url, 3, "the album classified")
            assert await bot.stop(signal.SIGTERM) == 0  # within the album's quiet second
            await bot.start()
            await tg.wait_for("getUpdates", timeout=60)
            await tg.wait_delivered(timeout=30)  # copies sent again are handled by now
        finally:
            await bot.stop()
    albums = [r for r in tg.requests("sendMessage") if r.ok and "3 photos" in r.params["text"]]
    assert len(albums) == 1


async def until_rows(url: object, count: int, what: str) -> None:
    """Wait until ``users_predictions`` holds ``count`` rows."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while await scalar(url, "SELECT COUNT(*) FROM users_predictions") < count:  # type: ignore[arg-type]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
