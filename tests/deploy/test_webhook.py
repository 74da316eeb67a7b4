"""Webhook mode over real HTTP: registration, secret token, body checks, conversations,
answers once handled, a bounded backlog."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

from sqlalchemy.engine import URL
from telegram import Update

from bot.updates import CONCURRENT_UPDATES, ConfirmingBot
from bot.web import WEBHOOK_BACKLOG
from tests.bot.conftest import photo_bytes
from tests.bot.test_conversation import first_val
from tests.deploy.conftest import SECRET, WEBHOOK_PATH, WEBHOOK_URL, Deployed, deployed
from tests.faults.conftest import until


async def test_registers_the_webhook_and_keeps_it_at_stop(db: URL, tmp_path: Path) -> None:
    async with deployed(db, tmp_path, webhook=True) as bot:
        tg = bot.tg
        [request] = tg.requests("setWebhook")
        assert request.params["url"] == WEBHOOK_URL
        assert request.params["secret_token"] == SECRET
        assert request.params["allowed_updates"] == Update.ALL_TYPES
        assert request.params.get("drop_pending_updates") in (None, False)
    assert tg.webhook["url"] == WEBHOOK_URL
    assert not tg.requests("deleteWebhook")


async def test_conversation_and_metrics_over_the_webhook(hooked: Deployed) -> None:
    tg = hooked.tg
    alice = tg.user(7001, language_code="en")
    sent = await tg.send_command(alice, "/start")
    assert await hooked.post_update(sent.update) == (200, "")
    [welcome] = await tg.wait_for("sendMessage", timeout=20)
    assert "Privacy" in welcome.params["text"]

    sent = await tg.send_photo(alice, photo_bytes(first_val("verre")))
    assert (await hooked.post_update(sent.update))[0] == 200
    [answer] = await tg.wait_for(
        "sendMessage", lambda r: r.params.get("reply_markup") is not None and r.seq > welcome.seq
    )
    assert sent.message is not None
    assert answer.params["reply_parameters"]["message_id"] == sent.message["message_id"]

    await hooked.wait_metric('dumpin_updates_total{type="message"}', 2)
    assert await hooked.metric("dumpin_classification_duration_seconds_count") == 1
    classified = [
        c
        for c in hooked.services.classifier.classes
        if await hooked.metric(f'dumpin_photos_classified_total{{class="{c}"}}') == 1
    ]
    assert len(classified) == 1
    version = hooked.services.classifier.version
    assert await hooked.metric(f'dumpin_model_info{{version="{version}"}}') == 1


async def test_requests_without_the_secret_are_refused(hooked: Deployed) -> None:
    tg = hooked.tg
    sent = await tg.send_command(tg.user(7002), "/start")
    assert (await hooked.post_update(sent.update, secret=None))[0] == 403
    assert (await hooked.post_update(sent.update, secret="wrong"))[0] == 403
    assert (await hooked.post_update(sent.update, secret=SECRET + "x"))[0] == 403
    await asyncio.sleep(0.3)
    assert not tg.requests("sendMessage")
    assert await hooked.metric('dumpin_updates_total{type="message"}') is None


async def test_bad_bodies_get_4xx_and_are_not_processed(hooked: Deployed) -> None:
    tg = hooked.tg
    user = tg.user(7003)
    sent = await tg.send_command(user, "/start")
    secret = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    padded = json.dumps({**sent.update, "padding": "x" * (1024 * 1024)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(padded), 65536):
            yield padded[start : start + 65536]

    assert (await hooked.post(WEBHOOK_PATH, io.BytesIO(padded), headers=secret))[0] == 413
    assert (await hooked.post(WEBHOOK_PATH, chunks(), headers=secret))[0] == 413
    assert (await hooked.post(WEBHOOK_PATH, b"not json", headers=secret))[0] == 400
    assert (await hooked.post(WEBHOOK_PATH, b"[1, 2]", headers=secret))[0] == 400
    assert (await hooked.post(WEBHOOK_PATH, b'{"message": {}}', headers=secret))[0] == 400
    update = json.dumps(sent.update).encode()
    assert (await hooked.post(WEBHOOK_PATH, update, headers=secret, content_type="text/plain"))[
        0
    ] == 415
    assert (await hooked.get(WEBHOOK_PATH))[0] == 405
    await asyncio.sleep(0.3)
    assert not tg.requests("sendMessage")
    assert await hooked.metric('dumpin_updates_total{type="message"}') is None


async def test_answers_once_the_update_is_handled(hooked: Deployed) -> None:
    """200 means handled: a crash before loses nothing, as Telegram sends the update again."""
    tg = hooked.tg
    tg.slow("sendMessage", 0.5, times=1)
    sent = await tg.send_command(tg.user(7004), "/aide")
    assert (await hooked.post_update(sent.update))[0] == 200
    [reply] = tg.requests("sendMessage")
    assert reply.done and reply.ok


async def test_refuses_updates_past_its_backlog(hooked: Deployed) -> None:
    """``WEBHOOK_BACKLOG`` updates in flight: the next one gets 503 (Telegram sends it again
    later), and is taken once there is room."""
    tg = hooked.tg
    tg.slow("sendMessage", 2.0, times=CONCURRENT_UPDATES)
    updates = [
        (await tg.send_command(tg.user(7100 + i), "/aide")).update
        for i in range(WEBHOOK_BACKLOG + 1)
    ]
    in_flight = cast(ConfirmingBot, hooked.app.bot).in_flight
    held = [asyncio.create_task(hooked.post_update(u)) for u in updates[:-1]]
    await until(lambda: len(in_flight) == WEBHOOK_BACKLOG, 20, "a full backlog")
    assert (await hooked.post_update(updates[-1]))[0] == 503
    assert [status for status, _ in await asyncio.gather(*held)] == [200] * WEBHOOK_BACKLOG
    assert (await hooked.post_update(updates[-1]))[0] == 200
    assert len(tg.requests("sendMessage")) == WEBHOOK_BACKLOG + 1
