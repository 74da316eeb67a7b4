"""Shared locations through the fake Bot API: the département is saved from the point (never
the coordinates), « Partager ma position » offered where the bot asks, removed once answered."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from db.models import Base, UserDepartment
from tests.bot.conftest import BotHarness, consent


async def _saved(bot: BotHarness, user_id: int) -> str | None:
    async with bot.services.sessions() as session:
        from db.users import current_department

        return await current_department(session, user_id)


@pytest.mark.parametrize(
    ("latitude", "longitude", "code", "name"),
    [
        (44.8378, -0.5792, "33", "Gironde"),  # Bordeaux
        (41.9192, 8.7386, "2A", "Corse-du-Sud"),  # Ajaccio
        (-20.8823, 55.4504, "974", "La Réunion"),  # Saint-Denis de La Réunion
        (45.0017, -1.215, "33", "Gironde"),  # in the ocean 1 km off Lacanau: the coast
    ],
)
async def test_location_sets_the_departement(
    bot: BotHarness, latitude: float, longitude: float, code: str, name: str
) -> None:
    tg = bot.tg
    user = tg.user(6001)
    await consent(bot, user)
    reply = await bot.reply(await tg.send_location(user, latitude, longitude))
    assert f"{name} ({code})" in reply.params["text"]
    assert await _saved(bot, user.id) == code
    card = (await bot.reply(await tg.send_text(user, "canette"))).result["text"]
    assert f"{name} ({code})" in card


async def test_at_sea_changes_nothing(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(6002, language_code="en")
    await consent(bot, user, "75")
    reply = await bot.reply(await tg.send_location(user, 45.5, -3.0))  # Bay of Biscay
    assert "not in a French département" in reply.params["text"]
    assert await _saved(bot, user.id) == "75"


async def test_departement_alone_says_the_saved_one_and_offers_the_button(
    bot: BotHarness,
) -> None:
    tg = bot.tg
    user = tg.user(6003)
    await consent(bot, user, "75")
    ask = await bot.reply(await tg.send_command(user, "/departement"))
    assert "Votre département est Paris (75)." in ask.params["text"]
    keyboard = tg.reply_keyboard(user)
    assert keyboard is not None
    assert keyboard["keyboard"][0][0] == {
        "text": "📍 Partager ma position",
        "request_location": True,
    }
    saved = await bot.reply(await tg.share_location(user, 44.8378, -0.5792))
    assert "Gironde (33)" in saved.params["text"]
    assert saved.params["reply_markup"] == {"remove_keyboard": True}
    assert tg.reply_keyboard(user) is None
    assert await _saved(bot, user.id) == "33"
    again = await bot.reply(await tg.send_text(user, "canette"))  # no longer awaited: a search
    assert "Canette" in again.result["text"]


async def test_the_button_is_offered_after_consent_and_removed_by_a_typed_answer(
    bot: BotHarness,
) -> None:
    tg = bot.tg
    user = tg.user(6004)
    await consent(bot, user)  # ends with the question
    assert tg.reply_keyboard(user) is not None
    saved = await bot.reply(await tg.send_text(user, "Bordeaux"))
    assert "Gironde (33)" in saved.params["text"]
    assert tg.reply_keyboard(user) is None


async def test_users_without_consent_keep_it_in_memory_only(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(6005)
    reply = await bot.reply(await tg.send_location(user, 41.9192, 8.7386))
    assert "Corse-du-Sud (2A)" in reply.params["text"]
    async with bot.services.sessions() as session:
        assert list(await session.scalars(select(UserDepartment))) == []
    card = (await bot.reply(await tg.send_text(user, "bouteille en verre"))).result["text"]
    assert "Corse-du-Sud (2A)" in card


def test_no_table_has_a_place_for_coordinates() -> None:
    columns = {c.name for table in Base.metadata.tables.values() for c in table.columns}
    assert not {c for c in columns if "lat" in c or "lon" in c or "coord" in c}
    assert inspect(UserDepartment).columns.keys() == ["user_id", "department_code", "chosen_at"]
