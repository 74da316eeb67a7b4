"""The models table across an image upgrade: the shipped model keeps its own files, and the
bot does not reload a model whose files hold another version."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Model
from ml.classifier import Classifier
from ml.memory import EXEMPLARS_FILE
from ml.model_watch import watch_active_model
from ml.registry import copy_model, ensure_active, model_id, promote
from tests.scheduler.conftest import model_copy


def _upgrade(package: Path, version: str) -> None:
    """What a new image does to the installed package: its model folder holds another model."""
    card = json.loads((package / "model.json").read_text())
    (package / "model.json").write_text(json.dumps(card | {"version": version}))


async def test_shipped_model_is_recorded_with_a_copy_of_its_files(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, shipped_model: Path
) -> None:
    package = model_copy(shipped_model, tmp_path / "package", "v1")
    models_root = tmp_path / "data" / "models"
    async with sessions() as session:
        assert await model_id(session, "v1", package, models_root) is not None
        await session.commit()
    async with sessions() as session:
        row = await ensure_active(session, package, models_root)
    assert Path(row.path) == (models_root / "v1").resolve()
    assert row.activated_at is not None  # the chart marks the promotion then
    _upgrade(package, "v2")
    assert Classifier.load(Path(row.path)).version == "v1"  # the row's files did not change
    assert not list(models_root.glob(".*"))  # no partial copy left


async def test_a_promotion_or_rollback_is_dated_for_the_chart(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, shipped_model: Path
) -> None:
    trained = datetime(2026, 1, 1)
    async with sessions() as session:
        folders = {v: model_copy(shipped_model, tmp_path / v, v) for v in ("first", "second")}
        rows = [Model(version=v, path=str(p), created_at=trained) for v, p in folders.items()]
        session.add_all(rows)
        await session.flush()
        for row in (*rows, rows[0]):  # promoted, promoted, rolled back to
            await promote(session, row.id)
            assert row.status == "active" and row.activated_at and row.activated_at > trained
        await session.commit()
    assert [r.status for r in rows] == ["active", "retired"]


async def test_the_copy_of_the_shipped_model_keeps_its_memory(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, shipped_model: Path
) -> None:
    package = model_copy(shipped_model, tmp_path / "package", "v1")
    shutil.copyfile(shipped_model / EXEMPLARS_FILE, package / EXEMPLARS_FILE)
    async with sessions() as session:
        row = await ensure_active(session, package, tmp_path / "data" / "models")
    assert Classifier.load(Path(row.path)).memory is not None


class _Counting:
    """A classifier that counts its reloads."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.reloads = 0

    @property
    def version(self) -> str:
        return self.classifier.version

    def reload(self, model_dir: Path) -> None:
        self.reloads += 1
        self.classifier.reload(model_dir)


async def test_watcher_does_not_reload_a_model_whose_files_changed(
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    shipped_model: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A row recorded before the copy existed points into the package; after an upgrade its
    files hold the new version, which never equals the row's."""
    package = model_copy(shipped_model, tmp_path / "package", "v1")
    async with sessions() as session:
        session.add(Model(version="v1", path=str(package), status="active"))
        await session.commit()
    _upgrade(package, "v2")
    classifier = _Counting(Classifier.load(package))
    watcher = asyncio.create_task(watch_active_model(sessions, classifier, 0.01))
    await asyncio.sleep(0.5)
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    assert classifier.reloads == 1
    assert classifier.version == "v2"
    assert "hold model v2" in caplog.text


def test_threads_copying_the_shipped_model_at_once_all_get_it(
    tmp_path: Path, shipped_model: Path
) -> None:
    """The first photos after a start record the shipped model from several threads at once."""
    for attempt in range(5):
        root = tmp_path / str(attempt) / "models"
        start = threading.Barrier(8)

        def copy(_: int, root: Path = root, start: threading.Barrier = start) -> Path:
            start.wait()
            return copy_model(shipped_model, root, "v1")

        with ThreadPoolExecutor(8) as pool:
            copies = set(pool.map(copy, range(8)))
        assert copies == {(root / "v1").resolve()}
        assert not list(root.glob(".*"))  # no partial copy left
