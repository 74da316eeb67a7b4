"""Answers across restarts and model reloads: buttons never name another photo's answer,
and each prediction records the model that made it."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL

from bench.botproc import add_users
from bot.metrics import metrics
from db.models import Model, UserPrediction
from tests.bot.conftest import BotHarness, buttons, photo_bytes, start_bot
from tests.bot.test_conversation import first_val
from tests.fake_telegram import FakeTelegram
from tests.faults.conftest import until

REPO = Path(__file__).resolve().parents[2]


async def test_old_button_after_a_restart_cannot_rewrite_another_answer(
    sqlite_url: URL, tmp_path: Path
) -> None:
    async with FakeTelegram() as tg:
        user = tg.user(5101)  # no consent: answers are kept in RAM
        async for bot in start_bot(sqlite_url, tmp_path / "data", tg=tg):
            first = await bot.reply(await tg.send_photo(user, photo_bytes(first_val("verre"))))
        async for bot in start_bot(sqlite_url, tmp_path / "data", tg=tg):
            await bot.reply(await tg.send_photo(user, photo_bytes(first_val("carton"))))
            second_before = bot.last_message(user)
            old_button = buttons(first.result)[0]
            pressed = await tg.press_button(user, first.result, old_button)
            assert (await bot.answer_of(pressed))["text"] == "Ce bouton a expiré."
            assert bot.last_message(user) == second_before
            assert tg.messages(user)[0]["text"] == first.result["text"]
    assert buttons(first.result)[0] not in buttons(second_before)


async def test_prediction_records_the_model_that_answered(
    migrated_url: URL, tmp_path: Path
) -> None:
    """The model is reloaded after the photo was classified and before its prediction is
    recorded: the version and ``models`` row recorded are those of the model that answered."""
    other = copy_model(tmp_path / "other", "test-reload")
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(1))  # the photo's storage waits behind this
    release = threading.Event()
    async for bot in start_bot(migrated_url, tmp_path / "data"):
        tg = bot.tg
        await add_users(migrated_url, [5102])
        shipped = bot.services.classifier.version
        blocked = loop.run_in_executor(None, release.wait)
        sent = await tg.send_photo(tg.user(5102), photo_bytes(first_val("verre")))
        await until(partial(classified_once, bot), 20, "the photo classified")
        bot.services.classifier.reload(other)
        release.set()
        await blocked
        await bot.reply(sent)
        async with bot.services.sessions() as session:
            row = await session.scalar(select(UserPrediction))
            assert row is not None and row.model_id is not None
            model = await session.get(Model, row.model_id)
        assert bot.services.classifier.version == "test-reload"
        assert row.model_version == shipped
        assert model is not None and model.version == shipped and model.status == "active"


def copy_model(target: Path, version: str) -> Path:
    """The shipped model under another version."""
    shutil.copytree(REPO / "ml" / "models", target)
    card = json.loads((target / "model.json").read_text())
    (target / "model.json").write_text(json.dumps({**card, "version": version}))
    return target


def classified_once(bot: BotHarness) -> bool:
    """Whether the bot has classified one photo."""
    registry = metrics(bot.app.bot_data).registry
    return registry.get_sample_value("dumpin_classification_duration_seconds_count") == 1
