"""The promotion gate on real photos: users' photos decide, a regression on base photos is
refused and said, the admins get the two-part report in their language."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from db import memory_entries
from db.categories import CLASSES
from db.models import HeldOutSample, Model, TrainingSample, User, UserPrediction
from ml.classifier import Classifier
from ml.dataset import list_split
from ml.evaluate import evaluate
from ml.gate import MIN_USER_PHOTOS, USERS_RULE
from ml.head import balanced_class_weight, train_head
from ml.memory_sync import encode, load_memory
from ml.retrain import ViewEmbedder
from scheduler.jobs import retrain_job
from scheduler.retrain_text import report_text
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tests.scheduler.conftest import REPO, model_copy

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""The gate's arithmetic does not depend on the engine (the retrain's storage is tested on
both in test_retrain.py)."""

WILD = REPO.parent / "shared" / "datasets" / "wild-v1"
WILD_CLASSES = ("bois", "carton", "metal", "plastique")
PER_CLASS = 6
"""Harvested train and test photos per class: 24 test photos, enough for them to decide."""


@pytest.fixture(scope="session")
def base_only_model(
    tiny_base: Path,
    shipped_model: Path,
    embedding_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A model whose head knows only studio photos, 3 of the tiny base's 5 per class (weak on
    real-world photos; a retrain on the whole base is not worse on base photos)."""
    train = [s for i, s in enumerate(list_split(tiny_base, "train")) if i % 5 < 3]
    x = ViewEmbedder(shipped_model / "backbone.tflite", embedding_cache).plain(
        [s.path for s in train]
    )
    y = np.array([s.label for s in train])
    trained = np.array([c != "dechets_verts" for c in CLASSES])
    head = train_head(x, y, balanced_class_weight(y[trained[y]], len(CLASSES)), trained)
    return model_copy(shipped_model, tmp_path_factory.mktemp("m") / "base", "base-only-1", head)


async def _users_sent_wild_photos(
    sessions: async_sessionmaker[AsyncSession], data_dir: Path
) -> None:
    """Harvested samples: real-world photos (wild-v1/val), PER_CLASS train and test each."""
    if not (WILD / "val").is_dir():
        pytest.skip(f"no dataset at {WILD}")
    async with sessions() as session:
        for name in WILD_CLASSES:
            files = sorted((WILD / "val" / name).iterdir())[: 2 * PER_CLASS]
            for i, file in enumerate(files):
                split = "train" if i < PER_CLASS else "test"
                relative = f"dataset/{split}/{name}/{file.name}"
                (data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, data_dir / relative)
                row = {
                    "image_sha256": file.stem.ljust(64, "0"),
                    "path": relative,
                    "label": name,
                    "source": "user",
                }
                session.add(
                    TrainingSample(**row, subset="train")
                    if split == "train"
                    else HeldOutSample(**row)
                )
        session.add_all([User(id=11, language="fr"), User(id=22, language="en")])
        await session.commit()


def _with(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


async def test_better_on_users_photos_is_promoted_and_told_to_admins(
    sessions: async_sessionmaker[AsyncSession], retrain_settings: Settings, base_only_model: Path
) -> None:
    await _users_sent_wild_photos(sessions, retrain_settings.data_dir)
    async with FakeTelegram(strict_chats=False) as tg:
        settings = _with(
            retrain_settings,
            shipped_model_dir=base_only_model,
            telegram_token=SecretStr(DEFAULT_TOKEN),
            telegram_api_url=tg.url,
            admin_ids="11,22,33",
        )
        report = await retrain_job(settings, threading.Event())
        messages = {r.params["chat_id"]: r.params["text"] for r in tg.requests("sendMessage")}
    assert report is not None
    assert report.rule == USERS_RULE and report.promoted, [r.text() for r in report.reasons]
    users, base = report.parts["users"], report.parts["base"]
    assert users["candidate"]["n"] == len(WILD_CLASSES) * PER_CLASS >= MIN_USER_PHOTOS
    assert users["candidate"]["accuracy"] > users["active"]["accuracy"]
    assert base["candidate"]["n"] == 2 * (len(CLASSES) - 1)  # tiny base: 2 val photos a class
    assert users["candidate"]["per_class"]["metal"]["support"] == PER_CLASS
    assert sorted(messages) == [11, 22, 33]
    assert "promu" in messages[11] and "Photos des utilisateurs (24 photos)" in messages[11]
    assert "promoted" in messages[22] and "Base photos (24 photos)" in messages[22]
    assert "  metal: " in messages[22]
    assert "log loss" in messages[22] and "perte logarithmique" in messages[11]
    assert users["candidate"]["log_loss"] < users["active"]["log_loss"]
    assert messages[33] == messages[11]  # no language known: the default one (fr)


async def test_regression_on_base_photos_is_refused_with_the_reason(
    sessions: async_sessionmaker[AsyncSession],
    retrain_settings: Settings,
    base_only_model: Path,
    tiny_base: Path,
    tmp_path: Path,
) -> None:
    """The candidate learns the users' photos but its base photos were mislabelled (the
    classes users did not send shifted round by one): better on users' photos, worse on base
    photos -> refused, and the report says so."""
    mislabelled = tmp_path / "mislabelled"
    shutil.copytree(tiny_base, mislabelled)
    shifted = [c for c in CLASSES if (tiny_base / "train" / c).is_dir() and c not in WILD_CLASSES]
    for name in shifted:
        (mislabelled / "train" / name).rename(mislabelled / "train" / f"{name}.old")
    for name, wrong in zip(shifted, shifted[1:] + shifted[:1], strict=True):
        (mislabelled / "train" / f"{name}.old").rename(mislabelled / "train" / wrong)
    for name in ("val", "train"):  # same images, same embeddings: only the labels differ
        assert {p.name for p in (mislabelled / name).glob("*/*")} == {
            p.name for p in (tiny_base / name).glob("*/*")
        }
    await _users_sent_wild_photos(sessions, retrain_settings.data_dir)
    settings = _with(retrain_settings, shipped_model_dir=base_only_model, base_dataset=mislabelled)
    report = await retrain_job(settings, threading.Event())
    assert report is not None and report.rule == USERS_RULE and not report.promoted
    users = report.parts["users"]
    assert users["candidate"]["accuracy"] > users["active"]["accuracy"]  # not what refused it
    reasons = [r.text() for r in report.reasons]
    assert any(r.startswith("worse on base photos: accuracy") for r in reasons), reasons


async def _remembered(
    sessions: async_sessionmaker[AsyncSession], data_dir: Path, model: Path, cache: Path
) -> int:
    """The memory entries the bot recorded when the users confirmed their harvested training
    photos (test photos never reach the memory); how many."""
    async with sessions() as session:
        rows = list(
            await session.scalars(select(TrainingSample).where(TrainingSample.source == "user"))
        )
        emb = ViewEmbedder(model / "backbone.tflite", cache)
        vectors = emb.plain([data_dir / r.path for r in rows])
        for row, vector in zip(rows, vectors, strict=True):
            prediction = UserPrediction(
                user_id=11,
                image_sha256=row.image_sha256,
                image_path=row.path,
                predicted_class=row.label,
                confidence=0.5,
                model_version="shipped",
            )
            session.add(prediction)
            await session.flush()
            await memory_entries.put(
                session, prediction.id, 11, emb.backbone.id, row.label, encode(vector)
            )
        await session.commit()
    return len(rows)


async def test_both_models_are_judged_with_the_memory_as_the_bot_answers(
    sessions: async_sessionmaker[AsyncSession],
    retrain_settings: Settings,
    shipped_model: Path,
    tiny_base: Path,
    embedding_cache: Path,
) -> None:
    """The report's figures are what ``dumpin evaluate`` (head and memory: the exemplars and
    the users' entries) gives on the same photos, for the active model and the candidate; the
    candidate's card compares its own head alone and with the memory."""
    data_dir = retrain_settings.data_dir
    await _users_sent_wild_photos(sessions, data_dir)
    entries = await _remembered(sessions, data_dir, shipped_model, embedding_cache)
    report = await retrain_job(retrain_settings, threading.Event())
    assert report is not None
    async with sessions() as session:
        paths = {m.version: Path(m.path) for m in await session.scalars(select(Model))}
    candidate = json.loads((paths[report.version] / "model.json").read_text())
    assert candidate["memory"]["users_entries"] == entries == report.memory_entries
    assert f"avec la mémoire, comme le bot répond ({entries} entrées" in report_text(report, "fr")
    differs = 0
    for part, folder in (("users", data_dir / "dataset" / "test"), ("base", tiny_base / "val")):
        for who, version in (("candidate", report.version), ("active", report.active_version)):
            classifier = Classifier.load(paths[version], retrain_settings.memory_max_entries)
            assert await load_memory(retrain_settings.db_url, classifier) == entries
            measured = evaluate(classifier, folder)
            assert report.parts[part][who]["n"] == measured.n
            assert report.parts[part][who]["confusion"] == measured.confusion, (part, who)
        figures = candidate["memory"]["metrics"][f"test_{part}"]
        assert figures["with_memory"]["confusion"] == report.parts[part]["candidate"]["confusion"]
        assert figures["head"] == candidate["metrics"][f"test_{part}"]
        differs += figures["head"]["confusion"] != figures["with_memory"]["confusion"]
    assert differs  # the memory changed answers: judging the heads alone would differ
