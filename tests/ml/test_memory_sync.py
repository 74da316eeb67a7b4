"""Users' memory entries in the database (SQLite and MariaDB): learnt once confirmed, followed
by other processes, gone with /oublier and the retention purge."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import predictions, users
from db.categories import CLASSES
from db.erasures import ErasureLog
from db.models import MemoryEntry, User, utcnow
from ml import memory_sync
from ml.classifier import Classifier
from scheduler.purge import purge
from tests.db.factories import new_prediction

PHOTO = Path("val/carton/4c04c3d3c707f0e4.jpg")
"""A real-world photo the shipped model calls plastique."""


@pytest.fixture(scope="module")
def classifiers(model_dir: Path) -> tuple[Classifier, Classifier]:
    """Two processes' classifiers."""
    return Classifier.load(model_dir), Classifier.load(model_dir)


async def _confirmed(
    sessions: async_sessionmaker[AsyncSession], user_id: int, update_id: int
) -> int:
    async with sessions() as session:
        await users.give_consent(session, user_id, "fr", None)
        row = await predictions.record(
            session, new_prediction(user_id, update_id, "ab" * 32, "uploads/x.jpg", "plastique")
        )
        predictions.give_feedback(row, "carton")
        await session.commit()
        return row.id


async def _entries(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MemoryEntry)) or 0)


async def test_learnt_followed_and_forgotten(
    sessions: async_sessionmaker[AsyncSession],
    classifiers: tuple[Classifier, Classifier],
    wild_dir: Path,
    tmp_path: Path,
) -> None:
    here, there = classifiers
    photo = tmp_path / "photo.jpg"
    shutil.copy(wild_dir / PHOTO, photo)
    assert here.classify_path(photo).label == there.classify_path(photo).label == "plastique"
    prediction = await _confirmed(sessions, 501, 1)

    learnt = await memory_sync.learn(
        sessions, here, None, photo, prediction_id=prediction, user_id=501, label="carton"
    )
    assert learnt and len(here.memory or []) == 1
    assert here.classify_path(photo).label == "carton"  # at once in this process
    assert there.memory is not None
    assert await memory_sync.sync(sessions, there.memory) == (1, 0)  # the next poll elsewhere
    assert there.classify_path(photo).label == "carton"

    await memory_sync.learn(  # relabelled: replaced, not added
        sessions, here, None, photo, prediction_id=prediction, user_id=501, label="plastique"
    )
    assert await _entries(sessions) == 1 and len(here.memory or []) == 1
    assert await memory_sync.sync(sessions, there.memory) == (1, 1)

    gone = await memory_sync.entries_of(sessions, 501)
    async with sessions() as session:
        await users.forget(session, 501)
        await session.commit()
    memory_sync.drop(here, gone)
    assert await _entries(sessions) == 0 and len(here.memory or []) == 0
    assert await memory_sync.sync(sessions, there.memory) == (0, 1)
    assert len(there.memory) == 0
    assert here.classify_path(photo).label == "plastique"


async def test_retention_purge_removes_entries(
    sessions: async_sessionmaker[AsyncSession],
    classifiers: tuple[Classifier, Classifier],
    wild_dir: Path,
    tmp_path: Path,
) -> None:
    here, _ = classifiers
    photo = tmp_path / "photo.jpg"
    shutil.copy(wild_dir / PHOTO, photo)
    prediction = await _confirmed(sessions, 502, 2)
    await memory_sync.learn(
        sessions, here, None, photo, prediction_id=prediction, user_id=502, label="carton"
    )
    async with sessions() as session:
        user = await session.get(User, 502)
        assert user is not None
        user.last_seen_at = utcnow() - timedelta(days=400)
        await session.commit()
    async with sessions() as session:
        report, _ = await purge(
            session,
            ErasureLog.open(tmp_path, None),
            utcnow(),
            photo_days=30,
            inactive_days=365,
            erasures_before=utcnow() - timedelta(weeks=9),
        )
        await session.commit()
    assert report.users == 1
    assert await _entries(sessions) == 0
    assert here.memory is not None
    await memory_sync.sync(sessions, here.memory)
    assert len(here.memory) == 0


def test_stored_vectors_round_trip() -> None:
    import numpy as np

    vector = np.linspace(0, 3, 1280, dtype=np.float32)
    text = memory_sync.encode(vector)
    assert len(text) < 3500
    assert np.allclose(memory_sync.decode(text), vector, atol=2e-3)


def test_only_kept_photos_of_the_train_split_are_learnt() -> None:
    train = "a" * 56 + f"{3:08x}"
    test = "a" * 56 + f"{18:08x}"
    assert memory_sync.learns_from(train, "uploads/a.jpg")
    assert not memory_sync.learns_from(test, "uploads/a.jpg")
    assert not memory_sync.learns_from(train, None)
    assert CLASSES.index("carton") >= 0
