"""Tests of the fake Bot API server, driving a real PTB ``Application`` through it."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from PIL import Image
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, EndPointNotFound, InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Any]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=DEFAULT_TOKEN) as server:
        yield server
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftover, f"tasks left pending: {leftover}"


def build_app(
    tg: FakeTelegram,
    *,
    token: str = DEFAULT_TOKEN,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = (
        Application.builder()
        .token(token)
        .base_url(f"{tg.url}/bot")
        .base_file_url(f"{tg.url}/file/bot")
    )
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    return builder.build()


@asynccontextmanager
async def running(
    app: Application[Any, Any, Any, Any, Any, Any],
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """initialize → start polling → start; then the mirror-image shutdown."""
    await app.initialize()
    try:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
    finally:
        await app.shutdown()


@asynccontextmanager
async def plain_bot(tg: FakeTelegram, token: str = DEFAULT_TOKEN) -> AsyncIterator[Bot]:
    bot = Bot(token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
    async with bot:
        yield bot


def jpeg(width: int = 1000, height: int = 750) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (20, 140, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def photo_size(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    data = await (await message.photo[-1].get_file()).download_as_bytearray()
    await message.reply_text(f"{len(data)} bytes")


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = [[InlineKeyboardButton("Paper", callback_data="bin:paper")]]
    await update.effective_message.reply_text(
        "<b>Which bin?</b>", parse_mode="HTML", reply_markup=InlineKeyboardMarkup(keyboard)
    )


async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Noted")
    await query.edit_message_text(f"You chose {query.data}")


async def test_echo_text(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    alice = tg.user(1001, "Alice")
    async with running(app):
        await tg.send_text(alice, "bonjour")
        [reply] = await tg.wait_for("sendMessage")
        sent2 = await tg.send_text(alice, "encore")
        [reply2] = await tg.wait_for("sendMessage")
    assert reply.params["chat_id"] == alice.id
    assert reply.params["text"] == "echo: bonjour"
    assert reply2.params["text"] == "echo: encore"
    texts = [m["text"] for m in tg.messages(alice)]
    assert texts == ["echo: bonjour", "echo: encore"]
    ids = [m["message_id"] for m in tg.messages(alice, include_user=True)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert sent2.message_id is not None and reply2.result["message_id"] == sent2.message_id + 1
    assert tg.pending_updates() == []
    assert tg.requests("getMe") and tg.requests("deleteWebhook")


async def test_command_with_args_and_commands(tg: FakeTelegram) -> None:
    seen: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(list(context.args or []))
        await context.bot.set_my_commands([("start", "Démarrer")], language_code="fr")
        await context.bot.send_chat_action(update.effective_chat.id, "typing")  # type: ignore[union-attr]

    app = build_app(tg)
    app.add_handler(CommandHandler("start", start))
    bob = tg.user(1002, "Bob", language_code="fr")
    async with running(app):
        sent = await tg.send_command(bob, "/start", ["ref", "42"])
        await tg.wait_for("sendChatAction")
        assert await app.bot.get_my_commands(language_code="fr") == (
            await app.bot.get_my_commands(language_code="fr")
        )
        fr = await app.bot.get_my_commands(language_code="fr")
        default = await app.bot.get_my_commands()
    assert seen == [["ref", "42"]]
    assert sent.message is not None and sent.message["entities"][0]["type"] == "bot_command"
    assert [c.command for c in fr] == ["start"] and default == ()
    assert tg.commands(language_code="fr") == [{"command": "start", "description": "Démarrer"}]


async def test_photo_download(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(MessageHandler(filters.PHOTO, photo_size))
    carol = tg.user(1003, "Carol")
    data = jpeg()
    async with running(app):
        sent = await tg.send_photo(carol, data, caption="bouteille", media_group_id="g1")
        [reply] = await tg.wait_for("sendMessage")
    assert reply.params["text"] == f"{len(data)} bytes"
    assert sent.message is not None
    sizes = sent.message["photo"]
    assert [s["width"] for s in sizes] == sorted(s["width"] for s in sizes)
    assert sizes[-1]["file_size"] == len(data) and (sizes[-1]["width"], sizes[-1]["height"]) == (
        1000,
        750,
    )
    [get_file] = tg.requests("getFile")
    assert get_file.params["file_id"] == sizes[-1]["file_id"]
    assert tg.requests("file")[0].params["file_path"].startswith("photos/")


async def test_callback_query_answer_and_edit(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(choose))
    dan = tg.user(1004, "Dan")
    async with running(app):
        await tg.send_command(dan, "menu")
        [sent] = await tg.wait_for("sendMessage")
        assert sent.result["text"] == "Which bin?"
        assert sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "bin:paper"
        pressed = await tg.press_button(dan, sent.result, "bin:paper")
        [answer] = await tg.wait_for("answerCallbackQuery")
        await tg.wait_for("editMessageText")
        with pytest.raises(BadRequest, match=r"(?i)not modified"):
            await app.bot.edit_message_text(
                "You chose bin:paper", dan.id, sent.result["message_id"]
            )
        with pytest.raises(BadRequest, match=r"(?i)to edit not found"):
            await app.bot.edit_message_text("x", dan.id, 999)
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await app.bot.answer_callback_query(pressed.callback_query["id"])  # type: ignore[index]
        with pytest.raises(AssertionError, match="not among"):
            await tg.press_button(dan, sent.result, "bin:glass")
    assert answer.params["text"] == "Noted"
    [state] = tg.messages(dan)
    assert state["text"] == "You chose bin:paper"
    assert "reply_markup" not in state  # editMessageText without markup drops the keyboard
    assert tg.callback_answer(pressed.callback_query["id"]) == {"text": "Noted"}  # type: ignore[index]


async def test_429_retried_by_rate_limiter(
    tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22.2+ warns on every RetryAfter unless time periods are opted in as timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    app = build_app(tg, rate_limiter=AIORateLimiter(max_retries=2))
    app.add_handler(MessageHandler(filters.TEXT, echo))
    eve = tg.user(1005, "Eve")
    tg.fail_next("sendMessage", times=1, status=429, retry_after=1)
    async with running(app):
        await tg.send_text(eve, "vite")
        first, second = await tg.wait_for("sendMessage", count=2, timeout=10)
    assert first.status == 429 and first.response is not None
    assert first.response["parameters"] == {"retry_after": 1}
    assert second.ok and second.params["text"] == "echo: vite"
    assert second.time - first.time >= 1.0
    assert [m["text"] for m in tg.messages(eve)] == ["echo: vite"]


async def test_wrong_token_is_invalid_token(tg: FakeTelegram) -> None:
    app = build_app(tg, token="987654:wrong")
    with pytest.raises(InvalidToken):
        await app.initialize()
    await app.bot.shutdown()
    [request] = tg.requests("getMe")
    assert request.status == 401 and request.response == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }


async def test_server_errors_and_unknown_method(tg: FakeTelegram) -> None:
    frank = tg.user(1006, "Frank")
    async with plain_bot(tg) as bot:
        tg.fail_next("sendMessage", status=500)
        tg.fail_next("sendMessage", status=502)
        for _ in range(2):
            with pytest.raises(NetworkError):
                await bot.send_message(frank.id, "hi")
        message = await bot.send_message(frank.id, "hi")
        assert message.text == "hi" and message.from_user is not None and message.from_user.is_bot
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("doesNotExist")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(42, "nobody")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(frank.id, "<b>unclosed", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")
        with pytest.raises(BadRequest, match=r"(?i)to delete not found"):
            await bot.delete_message(frank.id, 12345)
        assert await bot.delete_message(frank.id, message.message_id)
    assert tg.messages(frank) == []
    assert [r.status for r in tg.requests("sendMessage")] == [500, 502, 200, 400, 400]


async def test_slow_method(tg: FakeTelegram) -> None:
    gina = tg.user(1007, "Gina")
    tg.slow("sendChatAction", 0.3)
    async with plain_bot(tg) as bot:
        started = time.monotonic()
        await bot.send_chat_action(gina.id, "typing")
        assert time.monotonic() - started >= 0.3


async def test_log_limit_keeps_the_latest_requests_and_counts_all() -> None:
    async with FakeTelegram(token=DEFAULT_TOKEN, log_limit=3) as server:
        hana = server.user(1008, "Hana")
        async with plain_bot(server) as bot:
            for n in range(5):
                await bot.send_message(hana.id, f"m{n}")
        kept = server.requests("sendMessage")
        assert [r.params["text"] for r in kept] == ["m2", "m3", "m4"]
        assert [r.seq for r in kept] == [3, 4, 5]  # after getMe (0) and m0, m1
        assert server.calls["sendMessage"] == 5
        assert len(server.messages(hana)) == 5


async def test_get_updates_semantics(tg: FakeTelegram) -> None:
    hugo = tg.user(1008, "Hugo")
    async with plain_bot(tg) as bot:
        first = await tg.send_text(hugo, "a")
        await tg.send_location(hugo)
        await tg.send_sticker(hugo)
        assert len(await bot.get_updates(limit=2)) == 2
        updates = await bot.get_updates(offset=first.update_id + 1)
        assert [u.update_id for u in updates] == [first.update_id + 1, first.update_id + 2]
        assert updates[0].message is not None and updates[0].message.location is not None
        assert len(tg.pending_updates()) == 2
        await bot.get_updates(offset=updates[-1].update_id + 1)
        assert tg.pending_updates() == []

        # allowed_updates filters; long polling returns as soon as something arrives
        await tg.send_voice(hugo)
        assert await bot.get_updates(allowed_updates=["callback_query"]) == ()
        started = time.monotonic()
        poll = asyncio.create_task(bot.get_updates(timeout=5, allowed_updates=[]))
        await asyncio.sleep(0.2)
        doc = await tg.send_document(hugo, b"%PDF-1.4", "tri.pdf", "application/pdf")
        [update] = await poll
        assert time.monotonic() - started < 2
        assert update.message is not None and update.message.document is not None
        assert update.message.document.file_name == "tri.pdf"
        file = await bot.get_file(doc.files[0].file_id)
        assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4"

        # an empty long poll lasts its timeout
        started = time.monotonic()
        assert await bot.get_updates(offset=update.update_id + 1, timeout=1) == ()
        assert time.monotonic() - started >= 0.9

        # webhook and getUpdates are exclusive
        await bot.set_webhook("https://example.org/hook")
        assert (await bot.get_webhook_info()).url == "https://example.org/hook"
        with pytest.raises(Conflict):
            await bot.get_updates()
        await bot.delete_webhook()


async def test_bot_uploads_and_test_files(tg: FakeTelegram) -> None:
    ines = tg.user(1009, "Inès")
    ref = tg.add_file(b"\xff\xd8fake-jpeg")
    async with plain_bot(tg) as bot:
        file = await bot.get_file(ref.file_id)
        assert file.file_size == ref.size and file.file_path is not None
        assert file.file_path.endswith(ref.file_path)
        assert bytes(await file.download_as_bytearray()) == b"\xff\xd8fake-jpeg"
        data = jpeg(400, 300)
        photo_msg = await bot.send_photo(ines.id, data, caption="<i>ok</i>", parse_mode="HTML")
        assert photo_msg.caption == "ok" and photo_msg.photo[-1].width == 400
        assert tg.file_bytes(photo_msg.photo[-1].file_id) == data
        doc_msg = await bot.send_document(ines.id, b"col1,col2\n", filename="bins.csv")
        assert doc_msg.document is not None and doc_msg.document.file_name == "bins.csv"
        again = await bot.send_photo(ines.id, ref.file_id)
        assert again.photo[-1].file_id == ref.file_id
    [upload] = tg.requests("sendPhoto")[:1]
    assert upload.files["photo"].data == data


async def test_malformed_update_does_not_stop_polling(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(MessageHandler(filters.TEXT, echo))
    jules = tg.user(1010, "Jules")
    async with running(app):
        await tg.send_raw({"some_future_update": {"foo": 1}})
        await tg.send_text(jules, "toujours là ?")
        [reply] = await tg.wait_for("sendMessage")
    assert reply.params["text"] == "echo: toujours là ?"


async def test_stop_does_not_wait_for_long_poll(tg: FakeTelegram) -> None:
    app = build_app(tg)
    started = time.monotonic()
    async with running(app):
        while not tg.requests("getUpdates"):  # noqa: ASYNC110 (wait for the 5 s long poll)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert not tg.requests("getUpdates")[-1].done
    assert time.monotonic() - started < 3
    with pytest.raises(AssertionError, match="Recent requests"):
        await tg.wait_for("sendMessage", timeout=0.1)


async def test_reply_keyboards_and_shared_locations(tg: FakeTelegram) -> None:
    from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

    erin = tg.user(1010, "Erin")
    async with plain_bot(tg) as bot:
        with pytest.raises(AssertionError, match="no location button"):
            await tg.share_location(erin, 44.84, -0.58)
        keyboard = ReplyKeyboardMarkup([[KeyboardButton("📍 Here", request_location=True)]])
        sent = await bot.send_message(erin.id, "Where?", reply_markup=keyboard)
        shown = tg.reply_keyboard(erin)
        assert shown is not None
        assert shown["keyboard"] == [[{"text": "📍 Here", "request_location": True}]]
        with pytest.raises(BadRequest, match=r"(?i)inline keyboard expected"):
            await bot.edit_message_text(
                "Where?!",
                erin.id,
                sent.message_id,
                reply_markup=keyboard,  # type: ignore[arg-type]
            )
        shared = await tg.share_location(erin, 44.84, -0.58)
        assert shared.message is not None
        assert shared.message["location"] == {"latitude": 44.84, "longitude": -0.58}
        await bot.send_message(erin.id, "Thanks", reply_markup=ReplyKeyboardRemove())
        assert tg.reply_keyboard(erin) is None
