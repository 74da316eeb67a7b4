"""``dumpin bot`` as a real process: starts, converses, stops on SIGTERM, keeps secrets out."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.bot.conftest import BotHarness
from tests.conftest import REPO
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram


async def start_dumpin(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    """``python -m bot ARGS`` with ``env`` on top of the environment (minus DUMPIN_*)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DUMPIN_")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=base | env,
        cwd=cwd,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_bot_process_answers_and_stops(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        env = {
            "DUMPIN_TELEGRAM_TOKEN": DEFAULT_TOKEN,
            "DUMPIN_TELEGRAM_API_URL": tg.url,
            "DUMPIN_DATA_DIR": str(tmp_path),
            "DUMPIN_HTTP_LISTEN": "127.0.0.1:0",
        }
        for step in (("db", "upgrade"), ("db", "seed")):
            setup = await start_dumpin(env, tmp_path, *step)
            await setup.communicate()
            assert setup.returncode == 0
        process = await start_dumpin(env, REPO, "bot")
        try:
            user = tg.user(5001, language_code="en")
            await tg.send_command(user, "/start")
            reply = await tg.wait_for("sendMessage", timeout=60)
            assert "Privacy" in reply[0].params["text"]
            assert tg.commands(language_code="en")
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert DEFAULT_TOKEN not in stderr.decode()
    assert DEFAULT_TOKEN.split(":")[1] not in stderr.decode()


async def test_bot_without_token_is_one_line(tmp_path: Path) -> None:
    process = await start_dumpin({"DUMPIN_DATA_DIR": str(tmp_path)}, tmp_path, "bot")
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert stderr.decode().count("\n") == 1 and "BotFather" in stderr.decode()


async def test_bot_with_a_rejected_token_is_one_line(tmp_path: Path) -> None:
    """Telegram refusing the token stops the bot with its one-line message and nothing after
    it (the HTTP session opened for the refused call used to be left for the garbage
    collector, which logged two asyncio errors)."""
    async with FakeTelegram() as tg:
        env = {
            "DUMPIN_TELEGRAM_TOKEN": "123:not-the-bots-token",
            "DUMPIN_TELEGRAM_API_URL": tg.url,
            "DUMPIN_DATA_DIR": str(tmp_path),
            "DUMPIN_HTTP_LISTEN": "127.0.0.1:0",
        }
        process = await start_dumpin(env, REPO, "bot")
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    lines = [line for line in stderr.decode().splitlines() if "XNNPACK" not in line]
    assert len(lines) == 1 and "rejected DUMPIN_TELEGRAM_TOKEN" in lines[0], lines


async def test_unexpected_error_alerts_admins_once(bot: BotHarness, caplog) -> None:
    tg = bot.tg
    user = tg.user(5002)
    tg.fail_next("getFile", times=2, status=400, description="Bad Request: wrong file_id")
    from tests.bot.conftest import ADMIN_ID, photo_bytes
    from tests.bot.test_conversation import first_val

    tg.user(ADMIN_ID)
    for _ in range(2):
        reply = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("bois"))))
        assert "Un problème est survenu" in reply.params["text"]
    alerts = [r for r in tg.requests("sendMessage") if r.params["chat_id"] == ADMIN_ID]
    assert len(alerts) == 1 and "BadRequest" in alerts[0].params["text"]
    assert DEFAULT_TOKEN not in caplog.text
