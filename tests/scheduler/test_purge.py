"""Retention: unconfirmed photos and inactive users do not stay longer than the notice says,
erasure records go once no backup needs them, stray uploads are cleaned up."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import erasures
from db.erasures import ErasureLog, read_record
from db.media import MediaStore
from db.models import User, UserPrediction, utcnow
from scheduler.jobs import purge_job
from tests.located import located_jpeg, located_png, metadata_in
from tests.scheduler.conftest import settings_for
from tests.scheduler.test_harvest import tiny_jpeg

DAY = timedelta(days=1)


async def test_purge_applies_the_retention_periods(
    sessions: async_sessionmaker[AsyncSession], migrated_url: URL, tmp_path: Path
) -> None:
    settings = settings_for(migrated_url, tmp_path, tmp_path, tmp_path)
    store, log, now = MediaStore(tmp_path), ErasureLog.open(tmp_path), utcnow()
    saved = {name: store.save(tiny_jpeg(name)) for name in ("old", "recent", "kept", "idle")}
    async with sessions() as session:
        session.add_all(
            [User(id=1, consent_at=now, last_seen_at=now), User(id=2, last_seen_at=now - 400 * DAY)]
        )
        await session.flush()
        for name, user, age, confirmed in (
            ("old", 1, 31 * DAY, False),  # unconfirmed for longer than 30 days: file goes
            ("recent", 1, 29 * DAY, False),
            ("kept", 1, 200 * DAY, True),  # confirmed: training material, stays
            ("idle", 2, 400 * DAY, True),  # an inactive user: everything goes
        ):
            digest, path = saved[name]
            session.add(
                UserPrediction(
                    user_id=user,
                    image_sha256=digest,
                    image_path=path,
                    predicted_class="verre",
                    confidence=0.5,
                    model_version="v",
                    created_at=now - age,
                    confirmed_at=now - age if confirmed else None,
                )
            )
        await erasures.store(session, {"a" * 64: now - 100 * DAY, "b" * 64: now - DAY})
        await session.commit()
    stray = store.root / store.save(tiny_jpeg("stray, row never recorded"))[1]
    os.utime(stray, (time.time() - 2 * 86400,) * 2)
    fresh = store.root / store.save(tiny_jpeg("being recorded now"))[1]

    report = await purge_job(settings, threading.Event())

    assert (report.users, report.photos, report.erasures) == (1, 1, 1)
    assert report.files == 3  # the old unconfirmed photo, the inactive user's, the stray one
    async with sessions() as session:
        assert set(await session.scalars(select(User.id))) == {1}
        rows = {r.image_sha256: r for r in await session.scalars(select(UserPrediction))}
        known = await erasures.recorded(session)
    assert rows[saved["old"][0]].image_path is None  # the answer stays in /historique
    assert rows[saved["recent"][0]].image_path == saved["recent"][1]
    assert rows[saved["kept"][0]].image_path == saved["kept"][1]
    on_disk = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "uploads").rglob("*.jpg")}
    assert on_disk == {saved["recent"][1], saved["kept"][1], fresh.relative_to(tmp_path).as_posix()}
    assert set(known) == {"b" * 64, log.digest(2)}  # the old record expired, user 2 recorded
    assert log.digest(2) in read_record(log.path)
    assert set(read_record(tmp_path / "backups" / "erasures.txt")) == set(known)


async def test_first_purge_reencodes_what_earlier_versions_stored(
    migrated_url: URL, tmp_path: Path
) -> None:
    """Uploads and samples stored as received before this version keep their location until
    the first purge re-encodes them (in place: the rows' paths stay right)."""
    settings = settings_for(migrated_url, tmp_path, tmp_path, tmp_path)
    files = {
        "uploads/ab/ab.jpg": located_jpeg(),
        "uploads/cd/cd.png": located_png(),
        "dataset/train/verre/ef.jpg": located_jpeg(orientation=None),
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "uploads" / "ab" / "broken.jpg").write_bytes(b"\xff\xd8 not an image")
    first = await purge_job(settings, threading.Event())
    assert first.reencoded == 3
    for name in files:
        assert metadata_in((tmp_path / name).read_bytes()) == []
    assert (await purge_job(settings, threading.Event())).reencoded == 0  # once only
