"""/oublier reaches the backups: a user sends photos, a backup is taken, the user asks to be
forgotten, the backup is restored, and the user and their photos are gone again, even when
the database itself was lost before the restore. Another user keeps everything."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from bench.botproc import add_users, scalar
from ml.model_folder import model_files
from scheduler.jobs import backup_job
from scheduler.recovery import restore_service
from tests.bot.conftest import start_bot
from tests.faults.conftest import quoting
from tests.scheduler.conftest import SHIPPED
from tests.scheduler.dbsnap import wipe

FORGOTTEN, STAYING = 7100, 7200


async def _photos_of(url: URL, user_id: int) -> int:
    return int(
        await scalar(url, f"SELECT COUNT(*) FROM users_predictions WHERE user_id = {user_id}")
    )


@pytest.mark.parametrize("lost", [False, True], ids=["database-kept", "database-lost"])
async def test_restored_backup_forgets_again(
    migrated_url: URL, tmp_path: Path, photos: list[bytes], lost: bool
) -> None:
    data_dir = tmp_path / "data"
    async for bot in start_bot(migrated_url, data_dir):
        tg = bot.tg
        await add_users(migrated_url, [FORGOTTEN, STAYING])
        for user_id, photo in (
            (FORGOTTEN, photos[0]),
            (FORGOTTEN, photos[1]),
            (STAYING, photos[2]),
        ):
            sent = await tg.send_photo(tg.user(user_id), photo)
            await tg.wait_for("sendMessage", quoting(sent), timeout=20)
        uploads = sorted((data_dir / "uploads").rglob("*.jpg"))
        assert len(uploads) == 3
        backup = await backup_job(bot.settings, threading.Event(), media=True)
        # the 3 photos, and the shipped model's copy recorded with the first prediction
        assert backup.media is not None and backup.media_files == 3 + len(model_files(SHIPPED))
        ask = await bot.reply(await tg.send_command(tg.user(FORGOTTEN), "/oublier"))
        await tg.press_button(tg.user(FORGOTTEN), ask.result, "forget:yes")
        await tg.wait_for("editMessageText")
        settings = bot.settings
    assert len(list((data_dir / "uploads").rglob("*.jpg"))) == 1
    if lost:
        await asyncio.to_thread(wipe, migrated_url)

    outcome = await restore_service(settings, backup.path, overwrite=True, media=True)

    assert outcome.rows["users"] == 2  # what the backup held...
    assert outcome.users_erased == 1 and outcome.erasures_known == 1  # ...and what was erased
    assert outcome.media_files == 2 and outcome.photos_deleted == 2
    assert await scalar(migrated_url, f"SELECT COUNT(*) FROM users WHERE id = {FORGOTTEN}") == 0
    assert await _photos_of(migrated_url, FORGOTTEN) == 0
    assert await _photos_of(migrated_url, STAYING) == 1
    assert await scalar(migrated_url, "SELECT COUNT(*) FROM erasures") == 1
    left = sorted((data_dir / "uploads").rglob("*.jpg"))
    assert len(left) == 1 and left[0] in uploads  # the other user's photo, still there
