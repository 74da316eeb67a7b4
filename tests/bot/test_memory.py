"""A correction helps the next similar photo at once, and /oublier takes it back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from db.models import MemoryEntry, UserPrediction
from tests.bot.conftest import BotHarness, buttons, consent
from tests.conftest import REPO
from tests.fake_telegram import FakeUser

WILD = REPO.parent / "shared" / "datasets" / "wild-v1"
MISREAD = WILD / "val" / "carton" / "4c04c3d3c707f0e4.jpg"
"""A real-world carton photo the shipped model calls plastique; its hash is in the train
split (photos of the val and test splits never go into the memory)."""
TEST_SPLIT = WILD / "val" / "carton" / "1ca49dcb1c16fb48.jpg"
"""Another misread carton photo, whose hash puts it in the test split."""


async def _send(bot: BotHarness, user: FakeUser, photo: Path) -> tuple[str, dict[str, object]]:
    """The photo's answer: the predicted class and the bot's message."""
    await bot.reply(await bot.tg.send_photo(user, await asyncio.to_thread(photo.read_bytes)))
    message = bot.last_message(user)
    async with bot.services.sessions() as session:
        row = await session.scalar(
            select(UserPrediction).order_by(UserPrediction.id.desc()).limit(1)
        )
        assert row is not None
        return row.predicted_class, message


async def _correct(bot: BotHarness, user: FakeUser, message: dict[str, object], label: str) -> None:
    fix = next(b for b in buttons(message) if b.startswith("fix:"))
    await bot.tg.press_button(user, message, fix)
    await bot.tg.wait_for("editMessageReplyMarkup")
    await bot.tg.press_button(user, bot.last_message(user), f"set:{fix.split(':')[1]}:{label}")
    await bot.tg.wait_for("editMessageText")


async def _entries(bot: BotHarness) -> int:
    async with bot.services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MemoryEntry)) or 0)


async def test_a_correction_answers_the_same_photo_right(bot: BotHarness) -> None:
    user = bot.tg.user(4001)
    await consent(bot, user, "33")
    label, message = await _send(bot, user, MISREAD)
    assert label == "plastique"
    await _correct(bot, user, message, "carton")
    assert await _entries(bot) == 1
    assert (await _send(bot, user, MISREAD))[0] == "carton"

    ask = await bot.reply(await bot.tg.send_command(user, "/oublier"))
    await bot.tg.press_button(user, ask.result, "forget:yes")
    await bot.tg.wait_for("editMessageText")
    assert await _entries(bot) == 0
    assert len(bot.services.classifier.memory or []) == 0
    await consent(bot, user)
    assert (await _send(bot, user, MISREAD))[0] == "plastique"


async def test_photos_of_the_test_split_and_of_users_without_consent_are_not_learnt(
    bot: BotHarness,
) -> None:
    user, anonymous = bot.tg.user(4002), bot.tg.user(4003)
    await consent(bot, user, "33")
    label, message = await _send(bot, user, TEST_SPLIT)
    assert label != "carton"
    await _correct(bot, user, message, "carton")
    await bot.reply(await bot.tg.send_photo(anonymous, await asyncio.to_thread(MISREAD.read_bytes)))
    await _correct(bot, anonymous, bot.last_message(anonymous), "carton")
    assert await _entries(bot) == 0
    assert len(bot.services.classifier.memory or []) == 0
