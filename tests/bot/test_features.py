"""Albums, users without consent, English, history, /oublier and admin /stats."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from bench.botproc import phone_photos
from db.models import User, UserDepartment, UserPrediction
from tests.bot.conftest import (
    ADMIN_ID,
    BotHarness,
    buttons,
    consent,
    photo_bytes,
    same_picture,
)
from tests.bot.test_conversation import any_engine_bot, first_val
from tests.located import located_jpeg, located_png, metadata_in
from tests.test_cli import run_cli

__all__ = ["any_engine_bot"]


async def test_album_gets_one_combined_reply(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(3001)
    await consent(bot, user, "44")
    photos = [photo_bytes(first_val(c)) for c in ("verre", "carton", "metal")]
    for data in photos:
        await tg.send_photo(user, data, media_group_id="album-1")
    reply = await bot.reply(await tg.send_text(user, "x"))  # the short help comes first
    assert "/aide" in reply.params["text"]
    album = await tg.wait_for(
        "sendMessage", lambda r: "3 photos" in str(r.params.get("text")), timeout=20
    )
    assert len(album) == 1
    message = bot.last_message(user)
    assert [b.split(":")[0] for b in buttons(message)] == ["ok", "fix"] * 3
    assert "Loire-Atlantique (44)" in message["text"]
    first_ok = buttons(message)[0]
    await tg.press_button(user, message, first_ok)
    edited = (await tg.wait_for("editMessageText"))[0]
    assert "✅" in edited.params["text"]
    assert len(tg.requests("sendMessage")) == len(
        [r for r in tg.requests("sendMessage") if r.params.get("text")]
    )
    async with bot.services.sessions() as session:
        rows = list(await session.scalars(select(UserPrediction).order_by(UserPrediction.id)))
    assert len(rows) == 3 and {r.media_group for r in rows} == {"album-1"}
    assert sum(r.confirmed_at is not None for r in rows) == 1


async def test_without_consent_nothing_is_stored(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(3002, language_code="en")
    privacy = await bot.reply(await tg.send_command(user, "/start"))
    assert "Privacy" in privacy.params["text"]
    assert "without their location" in privacy.params["text"]
    declined = await tg.press_button(user, privacy.result, "consent:no")
    await bot.reply(declined, "editMessageText")
    await bot.reply(declined)
    await bot.reply(await tg.send_text(user, "33000"))
    reply = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("papier"))))
    assert "Gironde (33)" in reply.params["text"]
    message = bot.last_message(user)
    fix = next(b for b in buttons(message) if b.startswith("fix:"))
    assert fix.startswith("fix:m")
    await tg.press_button(user, message, fix)
    await tg.wait_for("editMessageReplyMarkup")
    await tg.press_button(user, bot.last_message(user), f"set:{fix[4:]}:carton")
    edited = (await tg.wait_for("editMessageText"))[0]
    assert "Cardboard" in edited.params["text"]
    history = await bot.reply(await tg.send_command(user, "/historique"))
    assert "no history" in history.params["text"]
    async with bot.services.sessions() as session:
        for model in (User, UserPrediction, UserDepartment):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
    assert not (bot.settings.data_dir / "uploads").exists()


async def test_english_answer_and_language_switch(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(3003, language_code="en")
    await consent(bot, user, "75")
    reply = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
    assert "Paris (75)" in reply.params["text"]
    assert "That's right" in str(reply.params["reply_markup"]) or "Something else" in str(
        reply.params["reply_markup"]
    )
    menu = await bot.reply(await tg.send_command(user, "/langue"))
    await tg.press_button(user, menu.result, "lang:fr")
    assert "français" in (await tg.wait_for("editMessageText"))[0].params["text"]
    reply = await bot.reply(await tg.send_command(user, "/aide"))
    assert "Conseils" in reply.params["text"]
    async with bot.services.sessions() as session:
        stored = await session.get(User, user.id)
        assert stored is not None and stored.language == "fr"


async def test_departement_asks_suggests_and_disambiguates(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(3004)
    await consent(bot, user)
    ask = await bot.reply(await tg.send_command(user, "/departement"))
    assert "33000" in ask.params["text"]
    assert tg.reply_keyboard(user) is not None  # « Partager ma position »
    unknown = await bot.reply(await tg.send_text(user, "Girondr"))
    assert "dep:33" in str(unknown.params["reply_markup"])
    pressed = await tg.press_button(user, unknown.result, "dep:33")
    await bot.reply(pressed, "editMessageReplyMarkup")  # the choices lose their buttons
    assert "Gironde" in (await bot.reply(pressed)).params["text"]
    assert tg.reply_keyboard(user) is None  # and the location keyboard is gone
    several = await bot.reply(await tg.send_command(user, "/departement", "saint-denis"))
    assert "dep:93" in str(several.params["reply_markup"])
    await tg.press_button(user, several.result, "dep:974")
    await tg.wait_for("editMessageText")
    async with bot.services.sessions() as session:
        from db.users import current_department

        assert await current_department(session, user.id) == "974"


async def test_history_and_forget(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(3005)
    await consent(bot, user, "33")
    await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
    await bot.reply(await tg.send_photo(user, photo_bytes(first_val("metal"))))
    history = await bot.reply(await tg.send_command(user, "/historique"))
    assert "2 photos" in history.params["text"]
    uploads = list((bot.settings.data_dir / "uploads").rglob("*.jpg"))
    assert len(uploads) == 2
    ask = await bot.reply(await tg.send_command(user, "/oublier"))
    await tg.press_button(user, ask.result, "forget:yes")
    assert "supprimé" in (await tg.wait_for("editMessageText"))[0].params["text"]
    assert not any(path.exists() for path in uploads)
    async with bot.services.sessions() as session:
        for model in (User, UserPrediction, UserDepartment):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_stats_for_admins_only(bot: BotHarness) -> None:
    tg = bot.tg
    user, admin = tg.user(3006), tg.user(ADMIN_ID)
    await consent(bot, user, "33")
    await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
    denied = await bot.reply(await tg.send_command(user, "/stats"))
    unknown = await bot.reply(await tg.send_command(user, "/licorne"))
    assert denied.params["text"] == unknown.params["text"]
    figures = (await bot.reply(await tg.send_command(admin, "/stats"))).params["text"]
    assert "Utilisateurs : 1" in figures and "Photos : 1" in figures
    assert "Modèle" in figures and "Dernière sauvegarde : jamais" in figures


async def test_stats_chart_for_admins_and_the_same_figures_as_the_command(
    any_engine_bot: BotHarness, tmp_path: Path
) -> None:
    bot, tg = any_engine_bot, any_engine_bot.tg
    user, admin = tg.user(3007), tg.user(ADMIN_ID)
    await consent(bot, user, "33")
    answer = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
    fix = next(b for b in buttons(answer.result) if b.startswith("fix:"))
    await tg.press_button(user, answer.result, fix)
    await tg.wait_for("editMessageReplyMarkup")
    await tg.press_button(user, bot.last_message(user), f"set:{fix.split(':')[1]}:dechets_verts")
    await tg.wait_for("editMessageText")

    await bot.reply(await tg.send_command(user, "/stats"))
    figures = (await bot.reply(await tg.send_command(admin, "/stats"))).params["text"]
    chart = await bot.reply(await tg.send_text(admin, "x"), "sendPhoto")
    image = Image.open(io.BytesIO(chart.files["photo"].data))
    assert (image.format, image.size) == ("PNG", (1080, 1620))
    assert "Corrections : 100.0 % sur 1 vérifiées" in figures
    assert not [r for r in tg.requests("sendPhoto") if r.params["chat_id"] == user.id]
    assert not [r for r in tg.requests("sendChatAction") if r.params["chat_id"] == user.id]

    png = tmp_path / "chart.png"
    url = bot.settings.db_url.render_as_string(hide_password=False)
    env = {"DUMPIN_DATA_DIR": str(tmp_path / "cli"), "DUMPIN_DATABASE_URL": url}
    result = run_cli("stats", "--png", str(png), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{figures}\nchart written to {png}\n"  # one report, two ways
    with Image.open(png) as written:
        assert written.size == (1080, 1620)


async def test_stats_of_a_new_install_say_the_chart_comes_later(bot: BotHarness) -> None:
    figures = await bot.reply(await bot.tg.send_command(bot.tg.user(ADMIN_ID), "/stats"))
    assert figures.params["text"].endswith("📈 Un graphique viendra avec les premières photos.")
    assert "Photos : 0" in figures.params["text"]
    await bot.reply(await bot.tg.send_text(bot.tg.user(ADMIN_ID), "bonjour"))
    assert bot.tg.requests("sendPhoto") == []


async def test_phone_photo_downloaded_at_the_smallest_size_that_suffices(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(3010)
    await consent(bot, user, "33")
    sent = await tg.send_photo(user, phone_photos(1)[0])  # 1280x960: Telegram adds 800x600
    await bot.reply(sent)
    assert sent.message is not None
    medium = next(size for size in sent.message["photo"] if size["width"] == 800)
    assert [r.params["file_id"] for r in tg.requests("getFile")] == [medium["file_id"]]
    async with bot.services.sessions() as session:
        row = await session.scalar(select(UserPrediction).where(UserPrediction.user_id == 3010))
    assert row is not None and row.image_path is not None
    stored = (bot.settings.data_dir / row.image_path).read_bytes()
    assert same_picture(stored, tg.file_bytes(medium["file_id"]))


async def test_image_files_are_stored_without_their_location(bot: BotHarness) -> None:
    tg = bot.tg
    user = tg.user(3011)
    await consent(bot, user, "33")
    files = (("phone.jpg", located_jpeg(), "image/jpeg"), ("map.png", located_png(), "image/png"))
    for name, data, mime in files:
        await bot.reply(await tg.send_document(user, data, name, mime))
    async with bot.services.sessions() as session:
        paths = list(await session.scalars(select(UserPrediction.image_path)))
    assert len(paths) == 2
    for path in paths:
        assert path is not None
        assert metadata_in((bot.settings.data_dir / path).read_bytes()) == []
