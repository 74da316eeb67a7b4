"""``/healthz`` and ``/metrics`` in both modes, over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from tests.deploy.conftest import Deployed, deployed
from tests.fake_telegram import FakeTelegram


async def test_healthy_when_database_and_model_answer(hooked: Deployed) -> None:
    status, body, _ = await hooked.get("/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "model": hooked.services.classifier.version}


async def test_503_with_a_reason_when_the_database_is_down(tmp_path: Path) -> None:
    down = make_url("mysql+aiomysql://dumpin:pw@127.0.0.1:1/dumpin")
    async with deployed(down, tmp_path, webhook=True) as bot:
        status, body, _ = await bot.get("/healthz")
    assert status == 503
    assert json.loads(body)["reason"].startswith("database unreachable")
    assert "pw" not in body


class _NoModel:
    @property
    def version(self) -> str:
        raise FileNotFoundError("ml/models/model.json")


async def test_503_with_a_reason_without_a_model(hooked: Deployed, monkeypatch) -> None:
    monkeypatch.setattr(hooked.services, "classifier", _NoModel())
    status, body, _ = await hooked.get("/healthz")
    assert status == 503
    assert json.loads(body)["reason"].startswith("no model")


async def test_polling_mode_serves_health_and_metrics(db: URL, tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        await tg.api_setwebhook({"url": "https://old.example.test/hook"}, {})
        async with deployed(db, tmp_path, webhook=False, tg=tg) as bot:
            assert tg.webhook["url"] == ""  # polling replaces a webhook left by webhook mode
            status, body, _ = await bot.get("/healthz")
            assert status == 200 and json.loads(body)["status"] == "ok"
            await tg.send_command(tg.user(7101, language_code="en"), "/start")
            await tg.wait_for("sendMessage", timeout=20)
            status, body, content_type = await bot.get("/metrics")
            assert status == 200 and content_type.startswith("text/plain")
            assert "# TYPE dumpin_updates_total counter" in body
            await bot.wait_metric('dumpin_updates_total{type="message"}', 1)
            assert (await bot.post("/telegram/hook", b"{}"))[0] == 404  # no webhook route
