"""Searches by name through the fake Bot API: cards with the local container, choices, no
match, English, bad input, buttons after a restart, counters for /stats."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Item, ItemSearch, SearchCount
from db.session import create_engine, session_factory
from tests.bot.conftest import ADMIN_ID, BotHarness, buttons, consent, start_bot
from tests.fake_telegram import FakeUser


async def _item_id(bot: BotHarness, key: str) -> int:
    async with bot.services.sessions() as session:
        found = await session.scalar(select(Item.id).where(Item.key == key))
    assert found is not None
    return found


async def test_glass_in_paris_gets_the_local_container(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(5001)
    await consent(bot, user, "75")
    card = await bot.reply(await tg.send_text(user, "bouteille de vin"))
    text = card.result["text"]  # as the user sees it (HTML rendered)
    assert card.params["parse_mode"] == "HTML"
    assert "Bouteille en verre" in text and "Déposez-la dans le bac" in text
    assert "Bac blanc ou station Trilib'" in text and "Paris (75)" in text
    assert "© ADEME" in text and "licence MIT" in text
    elsewhere = tg.user(5002)
    await consent(bot, elsewhere, "44")
    card = (await bot.reply(await tg.send_text(elsewhere, "bouteille de vin"))).result["text"]
    assert "Borne à verre" in card and "Vérifiez la couleur" not in card.split("Borne")[0]


async def test_objects_without_a_class_give_ademes_advice_only(bot: BotHarness) -> None:
    user = bot.tg.user(5003)
    text = (await bot.reply(await bot.tg.send_text(user, "médicaments périmés"))).result["text"]
    assert "pharmacie" in text and "🗑" not in text and "© ADEME" in text


async def test_quoi_explains_and_searches(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(5004)
    alone = await bot.reply(await tg.send_command(user, "/quoi"))
    assert "pot de yaourt" in alone.params["text"]
    card = await bot.reply(await tg.send_command(user, "/quoi", "canette"))
    assert "<b>Canette</b>" in card.params["text"] and "Bac jaune" in card.params["text"]
    what = await bot.reply(await tg.send_command(user, "/what", "canette"))
    assert "<b>Canette</b>" in what.params["text"]
    assert "quoi" in [c["command"] for c in tg.commands()]
    english = {c["command"]: c["description"] for c in tg.commands(language_code="en")}
    assert english["quoi"] == "Find an object by its name"


async def test_a_choice_among_close_matches(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(5005)
    await consent(bot, user, "33")
    choices = await bot.reply(await tg.send_text(user, "pot de yaourt"))
    assert "Plusieurs objets" in choices.params["text"]
    datas = buttons(choices.result)
    assert 2 <= len(datas) <= 5 and all(d.startswith("it:") and len(d.encode()) < 64 for d in datas)
    assert datas[0] == f"it:{await _item_id(bot, 'pot-en-plastique-yaourt-creme-fraiche')}"
    pressed = await tg.press_button(user, choices.result, datas[0])
    card = await bot.reply(pressed, "editMessageText")
    assert "Pot en plastique" in card.result["text"]
    assert "Bac vert ou jaune selon la commune" in card.result["text"]  # Gironde's own rule
    assert buttons(bot.last_message(user)) == []
    await bot.reply(await tg.send_command(user, "/aide"))  # one update at a time per chat
    assert await _counters(bot.services.sessions) == ({}, None)  # written in batches
    await bot.services.search_counts.flush()
    assert await _counters(bot.services.sessions) == ({"searches": 1}, 1)  # one search, one card


async def _counters(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[dict[str, int], int | None]:
    async with sessions() as session:
        counts = dict((await session.execute(select(SearchCount.name, SearchCount.value))).all())
        return counts, await session.scalar(select(ItemSearch.count))


async def test_a_stop_writes_the_pending_counters(sqlite_url: URL, tmp_path: Path) -> None:
    async for bot in start_bot(sqlite_url, tmp_path / "data"):
        user = bot.tg.user(5014)
        await consent(bot, user, "33")
        await bot.reply(await bot.tg.send_text(user, "canette"))
        sessions = bot.services.sessions
        assert await _counters(sessions) == ({}, None)
    engine = create_engine(sqlite_url)
    assert await _counters(session_factory(engine)) == ({"searches": 1}, 1)
    await engine.dispose()


async def test_forged_and_stale_buttons_are_refused(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(5006)
    message = (await bot.reply(await tg.send_text(user, "pot de yaourt"))).result
    for forged in ("it:999999999", "it:abc", "it:", "it:1:2"):
        pressed = await tg.press_button(user, message, forged, check=False)
        answer = await bot.answer_of(pressed)
        assert answer["show_alert"] is True and "expiré" in answer["text"]
    assert len(buttons(bot.last_message(user))) >= 2  # the choices are still there


async def test_no_match_suggests_and_invites_a_photo(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(5007)
    nothing = await bot.reply(await tg.send_text(user, "xylophage bleu"))
    assert "Je ne connais pas « xylophage bleu »" in nothing.result["text"]
    assert "photo" in nothing.params["text"] and not nothing.params.get("reply_markup")
    close = await bot.reply(await tg.send_text(user, "bouteille de coca"))
    assert "Vouliez-vous dire" in close.params["text"]
    assert all(d.startswith("it:") for d in buttons(close.result))


async def test_english_user(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(5008, language_code="en")
    battery = (await bot.reply(await tg.send_text(user, "used batteries"))).result["text"]
    assert battery.startswith("battery (Pile jetable)")
    assert "ADEME's advice below is in French" in battery and "Rapportez vos piles" in battery
    fridge = (await bot.reply(await tg.send_text(user, "fridge"))).result["text"]
    assert "Recycling centre or shop take-back" in fridge and "National rule" in fridge
    nothing = (await bot.reply(await tg.send_text(user, "zzzz qqqq"))).params["text"]
    assert "I don't know" in nothing


@pytest.mark.parametrize(
    "text",
    [
        "x" * 4096,
        "😀🗑️♻️",
        "'; DROP TABLE items; --",
        "<b>pile</b> & <script>",
        "\u200b\u200b",
        "pile\x00\x07",
    ],
)
async def test_bad_input_gets_an_answer(
    bot: BotHarness, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    user = bot.tg.user(5009)
    reply = await bot.reply(await bot.tg.send_text(user, text))
    assert reply.ok and reply.params["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with bot.services.sessions() as session:
        assert (await session.scalar(select(func.count()).select_from(Item)) or 0) > 1000


async def test_photo_answer_when_unsure_invites_typing(bot: BotHarness) -> None:
    from tests.bot.conftest import photo_bytes
    from tests.bot.test_conversation import first_val

    tg = bot.tg
    user = tg.user(5010)
    bot.services.settings.low_confidence = 1.01  # every answer counts as unsure
    answer = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
    assert "tapez le nom de l'objet" in answer.params["text"]


async def test_buttons_survive_a_restart(sqlite_url: URL, tmp_path: Path) -> None:
    async for first in start_bot(sqlite_url, tmp_path / "data"):
        user = first.tg.user(5011)
        choices = await first.reply(await first.tg.send_text(user, "pot de yaourt"))
        data = buttons(choices.result)[1]
    async for second in start_bot(sqlite_url, tmp_path / "data"):
        user = second.tg.user(5011)
        message = (await second.reply(await second.tg.send_text(user, "bonjour"))).result
        pressed = await second.tg.press_button(user, message, data, check=False)
        card = await second.reply(pressed, "editMessageText")
        assert "© ADEME" in card.params["text"]


async def test_stats_show_searches(bot: BotHarness) -> None:
    tg = bot.tg
    user: FakeUser = tg.user(5012)
    await consent(bot, user, "33")
    await bot.reply(await tg.send_text(user, "canette"))
    await bot.reply(await tg.send_text(user, "canette"))
    await bot.reply(await tg.send_text(user, "qsdfqsdf"))
    stranger = tg.user(5013)  # no consent: nothing counted
    await bot.reply(await tg.send_text(stranger, "canette"))
    figures = (await bot.reply(await tg.send_command(tg.user(ADMIN_ID), "/stats"))).params["text"]
    assert "Recherches par nom : 3, sans résultat : 33.3 %" in figures
    assert "• Canette: 2" in figures
