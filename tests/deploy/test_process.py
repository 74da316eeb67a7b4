"""``dumpin bot --webhook`` as a real process: JSON logs, webhook over HTTP, clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.conftest import REPO
from tests.deploy.conftest import SECRET, WEBHOOK_PATH, WEBHOOK_URL
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUMPIN_")}
    return env | {"DUMPIN_DATA_DIR": str(tmp_path), **extra}


async def _dumpin(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=REPO, stderr=asyncio.subprocess.PIPE
    )


async def _wait_healthy(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(600):
        try:
            async with http.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered 200")


async def test_webhook_process_with_json_logs(tmp_path: Path) -> None:
    port = _free_port()
    async with FakeTelegram() as tg, aiohttp.ClientSession() as http:
        env = _env(
            tmp_path,
            DUMPIN_TELEGRAM_TOKEN=DEFAULT_TOKEN,
            DUMPIN_TELEGRAM_API_URL=tg.url,
            DUMPIN_WEBHOOK_URL=WEBHOOK_URL,
            DUMPIN_WEBHOOK_SECRET=SECRET,
            DUMPIN_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
            DUMPIN_LOG_FORMAT="json",
        )
        for step in (("db", "upgrade"), ("db", "seed")):
            assert await (await _dumpin(*step, env=env)).wait() == 0
        process = await _dumpin("bot", "--webhook", env=env)
        try:
            await _wait_healthy(http, f"http://127.0.0.1:{port}/healthz")
            assert tg.webhook["url"] == WEBHOOK_URL
            user = tg.user(7301, language_code="en")
            sent = await tg.send_command(user, "/start")
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            async with http.post(url, json=sent.update, headers=headers) as resp:
                assert resp.status == 200
            [reply] = await tg.wait_for("sendMessage", timeout=60)
            assert "Privacy" in reply.params["text"]
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    log = stderr.decode()
    native = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."  # LiteRT's C++ stderr
    entries = [json.loads(line) for line in log.splitlines() if line != native]
    assert any(
        e["message"] == "update handled" and e["handler"] == "start.on_start" for e in entries
    )
    for secret in (DEFAULT_TOKEN, DEFAULT_TOKEN.split(":")[1], SECRET, str(user.id)):
        assert secret not in log
    assert not tg.requests("deleteWebhook")


async def test_webhook_without_url_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, DUMPIN_TELEGRAM_TOKEN=DEFAULT_TOKEN, DUMPIN_WEBHOOK_SECRET=SECRET)
    process = await _dumpin("bot", "--webhook", env=env)
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert stderr.decode().count("\n") == 1 and "DUMPIN_WEBHOOK_URL" in stderr.decode()


async def test_busy_health_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        async with FakeTelegram() as tg:
            env = _env(
                tmp_path,
                DUMPIN_TELEGRAM_TOKEN=DEFAULT_TOKEN,
                DUMPIN_TELEGRAM_API_URL=tg.url,
                DUMPIN_HTTP_LISTEN=address,
            )
            process = await _dumpin("bot", env=env)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert stderr.decode().endswith(
        f"\ndumpin: cannot listen on {address}: Address already in use\n"
    )
    assert not tg.requests()  # failed before contacting Telegram
