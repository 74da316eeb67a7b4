"""A full disk or an unwritable uploads folder: the user gets the answer and a clear warning,
the log says why, and no partial file is left behind."""

from __future__ import annotations

import errno
import io
import logging
from pathlib import Path
from typing import Any

import pytest

from bench.botproc import add_users, scalar
from tests.bot.conftest import BotHarness
from tests.faults.conftest import quoting

WARNING = "⚠️ Je n'ai pas pu enregistrer votre photo"


class FullDisk(io.FileIO):
    """A file that takes half of what is written, then fails like a full disk."""

    def write(self, data: Any) -> int:
        super().write(bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")


def leftovers(data_dir: Path) -> list[Path]:
    """Partial uploads still on disk."""
    return list(data_dir.rglob(".part-*"))


async def photo_answer(bot: BotHarness, user_id: int, photo: bytes) -> list[str]:
    """Send a photo; the texts the bot sent back (warning line, then the answer)."""
    tg = bot.tg
    sent = await tg.send_photo(tg.user(user_id), photo)
    await tg.wait_for("sendMessage", quoting(sent), timeout=20)
    return [r.params["text"] for r in tg.requests("sendMessage") if r.params["chat_id"] == user_id]


async def test_full_disk(
    sqlite_bot: BotHarness,
    photos: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_dir = sqlite_bot.settings.data_dir
    url = sqlite_bot.settings.db_url
    await add_users(url, [6400])
    monkeypatch.setattr("db.media.os.fdopen", lambda fd, mode: FullDisk(fd, "wb"))
    texts = await photo_answer(sqlite_bot, 6400, photos[0])
    assert len(texts) == 2 and texts[0].startswith(WARNING)
    assert "No space left on device" in caplog.text
    assert not leftovers(data_dir)
    assert await scalar(url, "SELECT COUNT(*) FROM users_predictions WHERE image_path IS NULL") == 1
    monkeypatch.undo()
    texts = await photo_answer(sqlite_bot, 6400, photos[1])
    assert not texts[-1].startswith(WARNING) and len(texts) == 3
    assert len(list((data_dir / "uploads").rglob("*.jpg"))) == 1


async def test_unwritable_uploads(
    sqlite_bot: BotHarness, photos: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = sqlite_bot.settings.data_dir
    await add_users(sqlite_bot.settings.db_url, [6401])
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "uploads").write_text("not a folder")
    with caplog.at_level(logging.ERROR):
        texts = await photo_answer(sqlite_bot, 6401, photos[0])
    assert len(texts) == 2 and texts[0].startswith(WARNING)
    assert "could not store an uploaded photo" in caplog.text
    assert not leftovers(data_dir)
