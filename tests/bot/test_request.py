"""The Bot API transport: parameters as JSON, uploads, 5xx retries of calls safe to repeat
only, timeouts and unreachable servers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.request import AiohttpRequest, _body, _env_proxy
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@asynccontextmanager
async def bot_on(url: str, request: AiohttpRequest) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=f"{url}/bot", request=request) as bot:
        yield bot


async def test_uploads_and_5xx_retries(tg: FakeTelegram) -> None:
    user = tg.user(1201)
    tg.fail_next("getChat", status=502, times=2)
    async with bot_on(tg.url, AiohttpRequest(backoff=0.01)) as bot:
        assert (await bot.get_chat(user.id)).id == user.id
        sent = await bot.send_document(user.id, b"col1,col2\n", filename="bins.csv")
    assert [r.status for r in tg.requests("getChat")] == [502, 502, 200]
    assert sent.document is not None and sent.document.file_name == "bins.csv"
    assert tg.requests("sendDocument")[-1].files["document"].data == b"col1,col2\n"


def test_parameters_are_the_strings_a_form_would_carry() -> None:
    text = "<b>Pot de yaourt</b> & « crème » 100% 🗑️\nDéposez-le + vite ; a=b?c#d"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Pile « AA »", callback_data="it:7")]])
    data = RequestData(
        [
            RequestParameter.from_input(name, value)
            for name, value in {
                "chat_id": 1201,
                "text": text,
                "parse_mode": "HTML",
                "reply_markup": keyboard,
                "disable_notification": True,
            }.items()
        ]
    )
    body = _body(data)
    assert isinstance(body, bytes)
    form = dict(parse_qsl(urlencode(data.json_parameters), keep_blank_values=True))
    assert json.loads(body) == form == data.json_parameters
    assert json.loads(form["reply_markup"]) == keyboard.to_dict()


async def test_5xx_on_a_message_is_not_sent_again(tg: FakeTelegram) -> None:
    """A 5xx may come after Telegram sent the message: sending it again sent it twice."""
    user = tg.user(1204)
    tg.fail_next("sendMessage", status=502, after=True)
    tg.fail_next("sendDocument", status=503)
    async with bot_on(tg.url, AiohttpRequest(backoff=0.01)) as bot:
        with pytest.raises(NetworkError):
            await bot.send_message(user.id, "hi")
        with pytest.raises(NetworkError):
            await bot.send_document(user.id, b"x", filename="x.csv")
    assert [m["text"] for m in tg.messages(user)] == ["hi"]
    assert len(tg.requests("sendDocument")) == 1


async def test_5xx_given_up_after_the_retries(tg: FakeTelegram) -> None:
    user = tg.user(1202)
    tg.fail_next("getChat", status=503, times=3)
    async with bot_on(tg.url, AiohttpRequest(retries=2, backoff=0.01)) as bot:
        with pytest.raises(NetworkError):
            await bot.get_chat(user.id)
        assert (await bot.get_chat(user.id)).id == user.id


async def test_slow_answer_times_out(tg: FakeTelegram) -> None:
    user = tg.user(1203)
    tg.slow("sendMessage", 1.0, times=1)
    async with bot_on(tg.url, AiohttpRequest(read_timeout=0.2)) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(user.id, "hi")


async def test_unreachable_server_is_a_network_error_without_the_token() -> None:
    request = AiohttpRequest(connect_timeout=2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:1/bot{DEFAULT_TOKEN}/getMe")
    finally:
        await request.shutdown()
    assert DEFAULT_TOKEN not in str(raised.value)


async def test_proxy_from_the_environment(
    tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests to a server only the proxy can reach go through ``HTTP_PROXY``."""
    monkeypatch.setenv("HTTP_PROXY", tg.url)
    monkeypatch.setenv("NO_PROXY", "")
    _env_proxy.cache_clear()
    try:
        async with bot_on("http://api.telegram.invalid", AiohttpRequest()) as bot:
            assert bot.username
    finally:
        _env_proxy.cache_clear()
    assert tg.requests("getMe")
