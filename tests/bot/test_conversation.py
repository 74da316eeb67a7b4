"""End to end: the real bot against the fake Bot API, on SQLite and MariaDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from db.models import User, UserDepartment, UserPrediction
from tests.bot.conftest import BotHarness, buttons, photo_bytes, same_picture, start_bot

GLASS = "val/verre/"


def first_val(category: str) -> str:
    from tests.bot.conftest import DATASET

    return str(sorted((DATASET / "val" / category).glob("*.jpg"))[0].relative_to(DATASET))


@pytest.fixture
async def any_engine_bot(migrated_url: URL, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot on each engine (SQLite, then MariaDB)."""
    async for harness in start_bot(migrated_url, tmp_path / "data"):
        yield harness


async def test_full_conversation(any_engine_bot: BotHarness) -> None:
    bot, tg = any_engine_bot, any_engine_bot.tg
    alice = tg.user(1001, "Alice", language_code="fr")

    start = await tg.send_command(alice, "/start")
    privacy = await bot.reply(start)
    assert "Confidentialité" in privacy.params["text"]
    for period in ("au bout de 30 jours", "après 365 jours", "8 semaines au plus"):
        assert period in privacy.params["text"]  # the retention periods in force
    consent = await tg.press_button(alice, bot.last_message(alice), "consent:yes")
    assert (await bot.answer_of(consent)).get("text") is None
    assert "Merci" in (await bot.reply(consent, "editMessageText")).params["text"]
    ask = await bot.reply(consent)
    assert "département" in ask.params["text"]

    chosen = await tg.send_command(alice, "/departement", "33")
    assert "Gironde (33)" in (await bot.reply(chosen)).params["text"]

    data = photo_bytes(first_val("verre"))
    expected = bot.services.classifier.classify_bytes(data)
    sent = await tg.send_photo(alice, data)
    answer = await bot.reply(sent)
    text = answer.params["text"]
    async with bot.services.sessions() as session:
        from db.disposal import disposal_for

        rule = await disposal_for(session, expected.label, "33", "fr")
    assert rule is not None and rule.container in text
    assert "Gironde (33)" in text
    assert str(sent.message_id) in str(answer.params.get("reply_parameters"))
    reply = bot.last_message(alice)
    fix = next(b for b in buttons(reply) if b.startswith("fix:"))
    prediction_id = int(fix.split(":")[1])

    await tg.press_button(alice, reply, fix)
    await tg.wait_for("editMessageReplyMarkup")
    grid = bot.last_message(alice)
    assert len(buttons(grid)) == 14
    correction = "plastique" if expected.label != "plastique" else "metal"
    await tg.press_button(alice, grid, f"set:{prediction_id}:{correction}")
    edited = (await tg.wait_for("editMessageText"))[0]
    assert ("Plastique" if correction == "plastique" else "Métal") in edited.params["text"]
    assert "Merci" in edited.params["text"]

    async with bot.services.sessions() as session:
        row = await session.get(UserPrediction, prediction_id)
        assert row is not None
        assert row.corrected_class == correction and row.confirmed_at is not None
        assert row.department_code == "33"
        assert row.image_path is not None
        downloaded = tg.requests("getFile")[0].params["file_id"]
        assert same_picture(
            (bot.settings.data_dir / row.image_path).read_bytes(), tg.file_bytes(downloaded)
        )
        user = await session.get(User, alice.id)
        assert user is not None and user.consent_at is not None
        departments = await session.scalars(select(UserDepartment.department_code))
        assert list(departments) == ["33"]


async def test_commands_registered_in_both_languages(bot: BotHarness) -> None:
    french = [c["command"] for c in bot.tg.commands()]
    english = bot.tg.commands(language_code="en")
    assert "departement" in french and "aide" in french
    assert any(c["description"] == "Help" for c in english)


async def test_typing_shown_only_while_an_answer_is_slow(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(1010)
    data = photo_bytes(first_val("verre"))
    await bot.reply(await tg.send_photo(user, data))
    assert not tg.requests("sendChatAction")

    tg.slow("getFile", 5.5, times=1)
    answer = await bot.reply(await tg.send_photo(user, data))
    typing = tg.requests("sendChatAction")
    assert [r.params["action"] for r in typing] == ["typing", "typing"]  # renewed after 4.5 s
    assert all(r.seq < answer.seq for r in typing)
