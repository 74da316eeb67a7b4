"""Fuzzed input: random bytes as photos and images, malformed updates, oversized callback
data, unicode edge cases in /departement. The bot answers what it can and never crashes."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from tests.bot.conftest import BotHarness
from tests.fake_telegram import FakeTelegram
from tests.faults.conftest import until

DEPARTMENTS = (
    "",
    " ",
    "\u200b33\u200b",  # zero-width spaces
    "ＧＩＲＯＮＤＥ",  # full-width
    "2A\u0301",  # combining accent
    "\u202egironde\u202c",  # right-to-left override
    "🗑️" * 50,
    "Saint-Étienne-du-Rouvray" * 20,
    "\x00\x01\x7f",
    "' OR 1=1 --",
    "%s %(x)s {0}",
    "ß" * 300,
)
MALFORMED: tuple[dict[str, Any], ...] = (
    {"message": {"message_id": 1, "date": 0}},
    {"message": {"message_id": 1, "date": 0, "chat": {"id": 6201, "type": "private"}}},
    {"callback_query": {"id": "q", "from": {"id": 6201, "is_bot": False, "first_name": "x"}}},
    {"edited_message": None},
    {"unknown_update_kind": {"x": 1}},
    {},
)


async def test_fuzzed_inputs(
    sqlite_bot: BotHarness, caplog: pytest.LogCaptureFixture, photos: list[bytes]
) -> None:
    tg = sqlite_bot.tg
    rng = random.Random(42)
    user = tg.user(6201)
    await tg.send_command(user, "/start")
    consent = await tg.wait_for("sendMessage", timeout=20)
    expected = 1
    for size in (0, 1, 100, 5000):
        await tg.send_photo(user, rng.randbytes(size))
        await tg.send_document(user, rng.randbytes(size), "x.jpg", "image/jpeg")
        expected += 2
    await tg.send_photo(user, photos[0][: len(photos[0]) // 2])  # truncated JPEG
    await tg.send_photo(user, b"\xff\xd8\xff" + rng.randbytes(3000))  # JPEG magic, then noise
    expected += 2
    await answers(tg, expected)  # fewer than CHAT_BACKLOG at once: none is skipped
    for update in MALFORMED:
        await tg.send_raw(update)
    for data in ("x" * 300, "ok:" + "9" * 200, "set:1:" + "é" * 40, "ok:a99999", "\u0000"):
        await tg.press_button(user, consent[0].result, data, check=False)
    await until(lambda: len(tg.requests("answerCallbackQuery")) >= 5, 45, "button answers")
    for text in DEPARTMENTS:
        await tg.send_command(user, "/departement", text or None)
        expected += 1
    await tg.send_photo(user, photos[1])
    expected += 1
    await answers(tg, expected)
    await until(lambda: not tg.pending_updates(), 10, "every update confirmed")
    assert sqlite_bot.app.running
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def answers(tg: FakeTelegram, expected: int) -> None:
    """Wait until the bot has sent ``expected`` messages."""
    await until(
        lambda: len([r for r in tg.requests("sendMessage") if r.ok]) >= expected,
        45,
        f"{expected} answers",
    )
