"""Bad input: every message gets a clear answer in the user's language and nothing crashes."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from db.models import UserPrediction
from tests.bot.conftest import BotHarness, buttons, consent, photo_bytes
from tests.bot.test_conversation import first_val


async def _count_predictions(bot: BotHarness) -> int:
    async with bot.services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(UserPrediction)) or 0)


async def test_unknown_text_invites_a_photo(bot: BotHarness) -> None:
    user = bot.tg.user(2001)
    reply = await bot.reply(await bot.tg.send_text(user, "bonjour"))
    assert "photo" in reply.params["text"] and "/aide" in reply.params["text"]


async def test_help_in_english(bot: BotHarness) -> None:
    user = bot.tg.user(2002, language_code="en")
    reply = await bot.reply(await bot.tg.send_command(user, "/help"))
    assert "/departement" in reply.params["text"] and "Tips" in reply.params["text"]


async def test_non_photos_get_polite_answer(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(2003, language_code="en")
    for send in (
        tg.send_sticker(user),
        tg.send_voice(user),
        tg.send_document(user, b"%PDF-1.4 fake", "notes.pdf", "application/pdf"),
    ):
        reply = await bot.reply(await send)
        assert "I can only read photos" in reply.params["text"]


async def test_unknown_command(bot: BotHarness) -> None:
    user = bot.tg.user(2004)
    reply = await bot.reply(await bot.tg.send_command(user, "/licorne"))
    assert "Je ne connais pas cette commande" in reply.params["text"]


async def test_corrupt_empty_and_huge_images(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(2005)
    truncated = photo_bytes(first_val("metal"))[:3000]
    reply = await bot.reply(await tg.send_document(user, truncated, "a.jpg", "image/jpeg"))
    assert "Je n'arrive pas à lire cette image" in reply.params["text"]
    reply = await bot.reply(await tg.send_document(user, b"", "b.jpg", "image/jpeg"))
    assert "vide" in reply.params["text"]
    reply = await bot.reply(await tg.send_document(user, b"not an image", "c.png", "image/png"))
    assert "Je n'arrive pas à lire cette image" in reply.params["text"]
    buffer = io.BytesIO()
    Image.new("L", (9000, 6000)).save(buffer, "PNG")
    reply = await bot.reply(await tg.send_document(user, buffer.getvalue(), "d.png", "image/png"))
    assert "trop grande" in reply.params["text"]
    assert await _count_predictions(bot) == 0


async def test_image_document_is_classified(bot: BotHarness) -> None:
    user = bot.tg.user(2006)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo_bytes(first_val("carton")))).save(buffer, "PNG")
    sent = await bot.tg.send_document(user, buffer.getvalue(), "box.png", "image/png")
    reply = await bot.reply(sent)
    assert "🗑" in reply.params["text"]


async def test_forged_and_stale_buttons(bot: BotHarness) -> None:
    tg = bot.tg
    owner, intruder = tg.user(2007), tg.user(2008)
    for user in (owner, intruder):
        await consent(bot, user, "75")
    await bot.reply(await tg.send_photo(owner, photo_bytes(first_val("verre"))))
    message = bot.last_message(owner)
    key = next(b for b in buttons(message) if b.startswith("fix:")).split(":")[1]
    forged = [
        f"ok:{int(key) + 1000}",
        f"set:{key}:licorne",
        "set:abc:verre",
        "garbage",
        "ok:" + "9" * 40,
        f"fix:a{key}",
    ]
    for data in forged:
        sent = await tg.press_button(owner, message, data, check=False)
        assert (await bot.answer_of(sent))["text"] == "Ce bouton a expiré."
    # the intruder presses a button on a copy of the owner's message in their own chat
    stolen = await tg.send_raw(
        {
            "callback_query": {
                "id": "4242",
                "from": {"id": intruder.id, "is_bot": False, "first_name": "Eve"},
                "chat_instance": "1",
                "data": f"set:{key}:papier",
                "message": message,
            }
        }
    )
    assert stolen.update["callback_query"]["id"] == "4242"
    answered = await tg.wait_for(
        "answerCallbackQuery", lambda r: r.params.get("callback_query_id") == "4242"
    )
    assert answered[0].params["text"] == "Ce bouton a expiré."
    async with bot.services.sessions() as session:
        row = await session.get(UserPrediction, int(key))
        assert row is not None and row.confirmed_at is None and row.corrected_class is None


async def test_malformed_update_does_not_stop_the_bot(bot: BotHarness) -> None:
    tg = bot.tg
    await tg.send_raw({"unknown_field": {"x": 1}})
    user = tg.user(2009)
    reply = await bot.reply(await tg.send_text(user, "encore là ?"))
    assert reply.params["text"]
