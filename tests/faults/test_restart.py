"""The bot stopped as on SIGTERM (the ``running`` block ends, as ``dumpin bot``'s signal
handler makes it) and started again: every photo is answered exactly once, albums included
(SIGKILL: test_kill.py). Before the stop drained its updates before confirming them, 20-27 of
60 photos were answered twice after one SIGTERM, and an album's reply was lost when the
SIGTERM came in its quiet second (bench/delivery.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from bench.botproc import add_users, scalar
from db.models import UserPrediction
from tests.deploy.conftest import Deployed, deployed, migrated_sqlite
from tests.fake_telegram import FakeTelegram
from tests.faults.conftest import answered, until

USER_IDS = list(range(7100, 7110))
PHOTOS = 40


async def test_stop_under_load_answers_every_photo_once(
    tmp_path: Path, photos: list[bytes]
) -> None:
    url = await migrated_sqlite(tmp_path / "bot.db")
    await add_users(url, USER_IDS)
    async with FakeTelegram() as tg:
        users = [tg.user(uid) for uid in USER_IDS]
        async with deployed(url, tmp_path / "data", webhook=False, tg=tg):
            sent = [
                await tg.send_photo(users[i % len(users)], photos[i % len(photos)])
                for i in range(PHOTOS)
            ]
            await until(lambda: len(tg.requests("sendMessage")) >= 5, 30, "answers")
            assert not all(answered(tg, s) for s in sent), "the stop came too late"
        async with deployed(url, tmp_path / "data", webhook=False, tg=tg):
            await until(lambda: all(answered(tg, s) for s in sent), 60, "every photo answered")
            await tg.wait_delivered(timeout=30)  # copies sent again are handled by now
    assert [len(answered(tg, s)) for s in sent] == [1] * PHOTOS
    assert await scalar(url, "SELECT COUNT(*) FROM users_predictions") == PHOTOS


async def test_stop_in_an_albums_quiet_second(tmp_path: Path, photos: list[bytes]) -> None:
    url = await migrated_sqlite(tmp_path / "bot.db")
    await add_users(url, [7200])
    async with FakeTelegram() as tg:
        user = tg.user(7200)
        async with deployed(url, tmp_path / "data", webhook=False, tg=tg) as bot:
            for data in photos[:3]:
                await tg.send_photo(user, data, media_group_id="quiet")
            await until_recorded(bot, 3)  # classified and recorded: the quiet second begins
        async with deployed(url, tmp_path / "data", webhook=False, tg=tg):
            await tg.wait_delivered(timeout=30)  # copies sent again are handled by now
    albums = [r for r in tg.requests("sendMessage") if r.ok and "3 photos" in r.params["text"]]
    assert len(albums) == 1


async def until_recorded(bot: Deployed, count: int) -> None:
    """Wait until the bot has recorded ``count`` predictions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while await recorded(bot) < count:
        assert loop.time() < deadline, f"timed out waiting for {count} predictions"
        await asyncio.sleep(0.02)


async def recorded(bot: Deployed) -> int:
    """Predictions recorded so far."""
    async with bot.services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(UserPrediction)) or 0)
