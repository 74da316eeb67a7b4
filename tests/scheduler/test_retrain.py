"""Retraining on real images: candidate, promotion, refusal, rollback and hot reload."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.settings import Settings
from db.categories import CLASSES
from db.models import HeldOutSample, Model, TrainingSample
from ml.classifier import Classifier
from ml.evaluate import evaluate
from ml.gate import FEW_USERS_RULE
from ml.head import Head, train_head
from ml.memory import EXEMPLARS_FILE
from ml.model_watch import watch_active_model
from ml.registry import promote
from ml.retrain import ViewEmbedder
from ml.second_opinion import CARD_KEY
from scheduler import retrain as retrain_module
from scheduler.jobs import run_scheduled
from scheduler.lock import instance_lock
from scheduler.retrain import retrain
from tests.model_folders import leaning_model, paired, single_model
from tests.scheduler.conftest import SHIPPED, model_copy, settings_for

TEMPERATURE = 1.25
"""A calibrated head's temperature (the shipped head's is 1.0)."""


async def _harvested_dechets_verts(
    sessions: async_sessionmaker[AsyncSession], base: Path, data_dir: Path
) -> None:
    """Five harvested training and two test images of the class the shipped model lacks."""
    files = sorted((base / "extra").iterdir())
    async with sessions() as session:
        for i, file in enumerate(files):
            split = "train" if i < 5 else "test"
            relative = f"dataset/{split}/dechets_verts/{file.name}"
            (data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, data_dir / relative)
            row = dict(
                image_sha256=file.stem.ljust(64, "0"),
                path=relative,
                label="dechets_verts",
                source="user",
            )
            session.add(
                TrainingSample(**row, subset="train") if split == "train" else HeldOutSample(**row)
            )
        await session.commit()


async def _wait_for(classifier: Classifier, version: str) -> None:
    for _ in range(200):
        if classifier.version == version:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"classifier still on {classifier.version}, expected {version}")


def _tempered_copy(shipped: Path, target: Path) -> Path:
    """The shipped model, memory included, with its head at :data:`TEMPERATURE`."""
    tempered = Head.load(shipped / "head.npz").tempered(TEMPERATURE)
    model_copy(shipped, target, "shipped-1", tempered)
    os.link(shipped / EXEMPLARS_FILE, target / EXEMPLARS_FILE)
    return target


async def test_promotion_hot_reload_and_rollback(
    sessions: async_sessionmaker[AsyncSession],
    migrated_url: URL,
    tmp_path: Path,
    tiny_base: Path,
    shipped_model: Path,
) -> None:
    # with a calibrated head, whose temperature the retrained heads must keep
    shipped_model = _tempered_copy(shipped_model, tmp_path / "shipped")
    settings = settings_for(migrated_url, tmp_path / "data", tiny_base, shipped_model)
    classifier = Classifier.load(shipped_model)
    watcher = asyncio.create_task(watch_active_model(sessions, classifier, 0.02))
    try:
        first = await retrain(settings, sessions, allow_promotion=False)
        assert first is not None and not first.promoted
        async with sessions() as session:  # ``dumpin models activate``
            await promote(session, first.model_id)
            await session.commit()
        await _wait_for(classifier, first.version)

        await _harvested_dechets_verts(sessions, tiny_base, settings.data_dir)
        report = await retrain(settings, sessions)
        assert report is not None and report.promoted and report.reasons == []
        assert report.rule == FEW_USERS_RULE  # 2 users' test photos cannot decide
        assert report.candidate["macro_f1"] > report.active["macro_f1"]
        assert report.candidate["per_class"]["dechets_verts"]["recall"] > 0
        await _wait_for(classifier, report.version)
        sample = next((tiny_base / "val" / "verre").iterdir())
        assert (await asyncio.to_thread(classifier.classify_path, sample)).label in CLASSES

        async with sessions() as session:
            rows = {r.version: r for r in await session.scalars(select(Model))}
        shipped_version = json.loads((shipped_model / "model.json").read_text())["version"]
        assert rows[shipped_version].status == "retired"  # recorded on the first retrain
        assert rows[first.version].status == "retired"
        assert rows[report.version].status == "active"
        model_dir = Path(rows[report.version].path)
        card = json.loads((model_dir / "model.json").read_text())
        assert "dechets_verts" in card["trained_classes"]  # learnable now that it has data
        assert classifier.memory is not None  # the memory follows the backbone it was built on
        memory = card["memory"]["metrics"]["test"]  # measured with its own head
        assert memory["with_memory"]["confusion"] == report.candidate["confusion"]
        assert memory["head"] == card["metrics"]["test"]
        shipped_head = json.loads((shipped_model / "model.json").read_text())["head"]
        assert card["head"]["train_views"] == shipped_head["train_views"]  # as ml.retrain
        assert card["head"]["seed"] == shipped_head["seed"]
        assert (card["head"]["temperature"], Head.load(model_dir / "head.npz").temperature) == (
            TEMPERATURE,
            TEMPERATURE,
        )  # the candidate kept the active head's calibration: the gate compared like with like
        views = {f.stem.split("_")[0] for f in (settings.data_dir / "embeddings").glob("*/*.npz")}
        assert views == {"plain"} | {f"aug{v}" for v in range(shipped_head["train_views"] - 1)}
        assert card["parent"] == first.version
        assert set(os.listdir(model_dir)) == {
            "backbone.tflite",
            "exemplars.npz",
            "head.npz",
            "model.json",
        }

        async with sessions() as session:  # rollback
            await promote(session, rows[first.version].id)
            await session.commit()
        await _wait_for(classifier, first.version)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

    assert await retrain(settings, sessions, min_new=1) is None  # nothing new since


async def test_a_second_opinion_is_judged_and_kept(
    sessions: async_sessionmaker[AsyncSession], retrain_settings: Settings, tmp_path: Path
) -> None:
    # a second model that answers bois, asked for every photo: it decides most answers
    shipped = retrain_settings.shipped_model_dir
    leaning = leaning_model(shipped, tmp_path / "leaning", "bois")
    active = paired(single_model(shipped, tmp_path / "pair", "pair-1"), leaning, 1.01)
    settings = retrain_settings.model_copy(update={"shipped_model_dir": active})
    report = await retrain(settings, sessions, allow_promotion=False)
    assert report is not None
    as_the_bot_answers = evaluate(Classifier.load(active), settings.base_dataset / "val")
    assert report.active["confusion"] == as_the_bot_answers.confusion
    assert report.active["per_class"]["bois"]["precision"] < 0.5
    async with sessions() as session:
        path = await session.scalar(select(Model.path).where(Model.version == report.version))
    assert path is not None
    candidate = Path(path)
    assert json.loads((candidate / "model.json").read_text())[CARD_KEY]["version"] == (
        "leaning-bois"
    )
    assert (candidate / "second" / "head.npz").read_bytes() == (leaning / "head.npz").read_bytes()


async def test_refusal_keeps_the_active_model(
    sessions: async_sessionmaker[AsyncSession],
    migrated_url: URL,
    tmp_path: Path,
    tiny_base: Path,
    shipped_model: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    test_files = sorted((tiny_base / "val").glob("*/*"))
    embedder = ViewEmbedder(shipped_model / "backbone.tflite", tmp_path / "data" / "embeddings")
    x = embedder.plain(test_files)
    y = np.array([CLASSES.index(p.parent.name) for p in test_files])
    trained = np.isin(np.arange(len(CLASSES)), y)
    seen_test = train_head(x, y, trained.astype(float), trained, iters=300)
    strong = model_copy(shipped_model, tmp_path / "strong", "strong-1", seen_test)
    settings = settings_for(migrated_url, tmp_path / "data", tiny_base, strong)

    report = await retrain(settings, sessions)
    assert report is not None and not report.promoted
    assert any("macro-F1" in reason.text() for reason in report.reasons)
    assert "stays a candidate" in caplog.text
    async with sessions() as session:
        statuses = {r.version: r.status for r in await session.scalars(select(Model))}
    assert statuses == {"strong-1": "active", report.version: "candidate"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_models_cli_lists_and_activates(
    sessions: async_sessionmaker[AsyncSession],
    migrated_url: URL,
    tmp_path: Path,
    shipped_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with sessions() as session:
        for version, status in (("old", "retired"), ("new", "active")):
            session.add(
                Model(
                    version=version,
                    path=str(shipped_model),
                    status=status,
                    created_at=datetime(2024, 1, 1),
                    metrics={"accuracy": 0.5, "macro_f1": 0.4},
                )
            )
        await session.commit()
    monkeypatch.setenv("DUMPIN_DATABASE_URL", migrated_url.render_as_string(False))
    monkeypatch.setenv("DUMPIN_DATA_DIR", str(tmp_path))
    assert await asyncio.to_thread(main, ["models"]) == 0
    assert "accuracy 0.5000" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["models", "activate", "1"]) == 0
    assert await asyncio.to_thread(main, ["models", "activate", "99"]) == 1
    assert "no model with id 99" in capsys.readouterr().err
    async with sessions() as session:
        statuses = {r.version: r.status for r in await session.scalars(select(Model))}
    assert statuses == {"old": "active", "new": "retired"}


async def test_files_missing_after_a_restore_are_skipped(
    sessions: async_sessionmaker[AsyncSession], retrain_settings: Settings, tiny_base: Path
) -> None:
    """A database restored without its media archive lists samples whose files are gone."""
    data_dir = retrain_settings.data_dir
    await _harvested_dechets_verts(sessions, tiny_base, data_dir)
    for split in ("train", "test"):
        next((data_dir / "dataset" / split / "dechets_verts").iterdir()).unlink()
    report = await retrain(retrain_settings, sessions, allow_promotion=False)
    assert report is not None and report.missing_files == 2


async def test_rollback_during_a_retrain_is_not_undone(
    sessions: async_sessionmaker[AsyncSession],
    retrain_settings: Settings,
    shipped_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An admin rolls back with ``dumpin models activate`` while a retrain fits its head: the
    retrain, which compared its candidate with the model active at its start, must not
    promote it over the rollback."""
    shipped = Head.load(shipped_model / "head.npz")
    always_verre = replace(shipped, W=np.zeros_like(shipped.W), b=np.eye(len(CLASSES))[11])
    weak = model_copy(shipped_model, tmp_path / "weak", "weak-1", always_verre)
    settings = retrain_settings.model_copy(update={"shipped_model_dir": weak})
    other = model_copy(shipped_model, tmp_path / "other", "other-1")
    async with sessions() as session:
        row = Model(version="other-1", path=str(other), status="retired")
        session.add(row)
        await session.commit()
    fitted, resume = threading.Event(), threading.Event()
    original = retrain_module.fit_candidate

    def pausing(*args: Any, **kwargs: Any) -> Any:
        fit = original(*args, **kwargs)
        fitted.set()
        resume.wait(60)
        return fit

    monkeypatch.setattr(retrain_module, "fit_candidate", pausing)
    running = asyncio.create_task(retrain(settings, sessions))
    try:
        assert await asyncio.to_thread(fitted.wait, 120)
        assert retrain_settings.database_url is not None
        monkeypatch.setenv("DUMPIN_DATABASE_URL", retrain_settings.database_url.get_secret_value())
        monkeypatch.setenv("DUMPIN_DATA_DIR", str(retrain_settings.data_dir))
        assert await asyncio.to_thread(main, ["models", "activate", str(row.id)]) == 0
    finally:
        resume.set()
        report = await running
    assert report is not None and not report.promoted
    assert "changed during the retrain" in report.reasons[0].text()
    async with sessions() as session:
        statuses = {r.version: r.status for r in await session.scalars(select(Model))}
    assert statuses["other-1"] == "active" and statuses[report.version] == "candidate"
    assert list(statuses.values()).count("active") == 1


async def test_hourly_check_and_retrain_share_one_lock(migrated_url: URL, tmp_path: Path) -> None:
    settings = settings_for(migrated_url, tmp_path, tmp_path, SHIPPED)
    ran: list[str] = []

    async def job(_settings: Settings, _stop: threading.Event) -> None:
        ran.append("retrain-check")

    async with instance_lock(migrated_url, "job-retrain"):  # a retrain is running
        await run_scheduled(settings, "retrain-check", job, threading.Event())
    assert ran == []
    await run_scheduled(settings, "retrain-check", job, threading.Event())
    assert ran == ["retrain-check"]
