"""Harvest: consent and confirmation filters, per-class threshold, dedup, idempotence, splits."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import select, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.media import MediaStore
from db.models import HeldOutSample, TrainingSample, User, UserPrediction
from db.predictions import give_feedback
from db.splits import split_of
from scheduler import harvest as harvest_module
from scheduler.harvest import HarvestReport, harvest
from tests.located import located_jpeg, located_png, metadata_in

CONFIRMED = datetime(2024, 6, 1, 10, 0)


def tiny_jpeg(seed: str) -> bytes:
    """A small real JPEG, a different colour for each ``seed``."""
    shade = hashlib.sha256(seed.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", (16, 12), tuple(shade[:3])).save(out, "JPEG")
    return out.getvalue()


async def _photo(
    session: AsyncSession,
    store: MediaStore,
    user: int,
    seed: str,
    predicted: str,
    corrected: str | None = None,
    confirmed: bool = True,
) -> str:
    digest, path = store.save(tiny_jpeg(seed))
    session.add(
        UserPrediction(
            user_id=user,
            image_sha256=digest,
            image_path=path,
            predicted_class=predicted,
            confidence=0.5,
            model_version="v",
            corrected_class=corrected,
            confirmed_at=CONFIRMED if confirmed else None,
        )
    )
    return digest


async def test_harvest(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    async with sessions() as session:
        session.add_all([User(id=7, consent_at=CONFIRMED), User(id=8)])
        await session.flush()
        verre = [await _photo(session, store, 7, f"v{i}", "verre") for i in range(3)]
        await _photo(session, store, 7, "v0", "verre")  # the same photo twice: one sample
        papier = [await _photo(session, store, 7, f"p{i}", "verre", "papier") for i in range(2)]
        await _photo(session, store, 7, "unconfirmed", "verre", confirmed=False)
        await _photo(session, store, 8, "no-consent", "verre")
        known = await _photo(session, store, 7, "known", "verre")
        session.add(TrainingSample(image_sha256=known, path="x.jpg", label="verre"))
        await session.commit()

    async with sessions() as session:
        report = await harvest(session, tmp_path, min_per_class=3)
        await session.commit()
    assert report.added == {"verre": 3}
    assert report.waiting == {"papier": 2}
    assert report.duplicates == 1

    async with sessions() as session:
        train = list(
            await session.scalars(select(TrainingSample).where(TrainingSample.source == "user"))
        )
        test = list(await session.scalars(select(HeldOutSample)))
        harvested = list(
            await session.scalars(
                select(UserPrediction).where(UserPrediction.harvested_at.is_not(None))
            )
        )
    rows: dict[str, TrainingSample | HeldOutSample] = {r.image_sha256: r for r in train}
    rows.update({r.image_sha256: r for r in test})
    assert set(rows) == set(verre)
    for digest, row in rows.items():
        split = split_of(digest)
        assert row.path == f"dataset/{split}/verre/{digest}.jpg"
        with Image.open(tmp_path / row.path) as sample:
            assert sample.size == (16, 12)
        assert (row in test) == (split == "test")
        assert "7" not in row.path.replace(digest, "")  # no user id in the dataset
    assert len(harvested) == 5  # 3 verre samples (4 predictions) + the known duplicate

    async with sessions() as session:  # idempotent
        again = await harvest(session, tmp_path, min_per_class=3)
        await session.commit()
    assert again.added == {} and again.duplicates == 0 and again.waiting == {"papier": 2}
    assert all(p not in rows for p in papier)


def test_split_is_deterministic_and_70_15_15() -> None:
    assert split_of("a" * 56 + f"{0:08x}") == "train"
    assert split_of("a" * 56 + f"{14:08x}") == "val"
    assert split_of("a" * 56 + f"{19:08x}") == "test"
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4000)]
    shares = Counter(split_of(d) for d in digests)
    assert abs(shares["train"] / 4000 - 0.70) < 0.03
    assert abs(shares["val"] / 4000 - 0.15) < 0.03
    assert [split_of(d) for d in digests] == [split_of(d) for d in digests]


async def test_samples_hold_no_metadata(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Uploads stored before re-encoding (or put there by hand) still carry their location:
    the dataset copies, which stay after /oublier, must not."""
    files = [
        ("jpg", located_jpeg()),
        ("jpg", located_jpeg(orientation=None)),  # GPS in XMP only
        ("png", located_png(exif=False)),  # GPS in text chunks only
    ]
    async with sessions() as session:
        session.add(User(id=7, consent_at=CONFIRMED))
        await session.flush()
        for extension, data in files:
            digest = hashlib.sha256(data).hexdigest()
            path = f"uploads/{digest[:2]}/{digest}.{extension}"
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_bytes(data)
            session.add(
                UserPrediction(
                    user_id=7,
                    image_sha256=digest,
                    image_path=path,
                    predicted_class="verre",
                    confidence=0.5,
                    model_version="v",
                    confirmed_at=CONFIRMED,
                )
            )
        await session.commit()
    async with sessions() as session:
        report = await harvest(session, tmp_path, min_per_class=1)
        await session.commit()
    assert report.added == {"verre": 3}
    for extension, data in files:
        [sample] = (tmp_path / "dataset").rglob(f"{hashlib.sha256(data).hexdigest()}.*")
        assert sample.suffix == f".{extension}"
        assert metadata_in(sample.read_bytes()) == []
        with Image.open(sample) as upright:  # the EXIF orientation applied before it went
            assert upright.size == ((32, 64) if data is files[0][1] else (64, 32))


async def _three_verre(
    sessions: async_sessionmaker[AsyncSession], data_dir: Path, prefix: str
) -> list[str]:
    """Three confirmed « verre » photos of consenting user 7; their digests."""
    store = MediaStore(data_dir)
    async with sessions() as session:
        session.add(User(id=7, consent_at=CONFIRMED))
        await session.flush()
        digests = [await _photo(session, store, 7, f"{prefix}{i}", "verre") for i in range(3)]
        await session.commit()
    return digests


async def _harvest(sessions: async_sessionmaker[AsyncSession], data_dir: Path) -> HarvestReport:
    async with sessions() as session:
        report = await harvest(session, data_dir, min_per_class=1)
        await session.commit()
    return report


async def _sample(sessions: async_sessionmaker[AsyncSession], digest: str) -> Any:
    async with sessions() as session:
        found = await session.scalar(
            select(TrainingSample).where(TrainingSample.image_sha256 == digest)
        )
        return found or await session.scalar(
            select(HeldOutSample).where(HeldOutSample.image_sha256 == digest)
        )


async def test_correction_after_harvest_relabels_the_sample(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    digests = await _three_verre(sessions, tmp_path, "c")
    assert (await _harvest(sessions, tmp_path)).added == {"verre": 3}
    before = await _sample(sessions, digests[0])
    async with sessions() as session:  # the user presses ✏️ Corriger -> papier, a week later
        row = await session.scalar(
            select(UserPrediction).where(UserPrediction.image_sha256 == digests[0])
        )
        assert row is not None and row.harvested_at is not None
        give_feedback(row, "papier")
        await session.commit()

    report = await _harvest(sessions, tmp_path)
    assert report.relabelled == 1 and report.duplicates == 0
    sample = await _sample(sessions, digests[0])
    assert sample.label == "papier"
    assert sample.path == before.path.replace("/verre/", "/papier/")
    assert (tmp_path / sample.path).is_file() and not (tmp_path / before.path).exists()
    assert sample.added_at >= before.added_at  # counts as new for the hourly retrain check
    again = await _harvest(sessions, tmp_path)
    assert again.relabelled == 0 and again.duplicates == 0  # nothing left to harvest


async def test_correction_during_a_harvest_is_not_lost(
    sessions: async_sessionmaker[AsyncSession],
    migrated_url: URL,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The user corrects a photo between the harvest's reading and its marking the rows done."""
    digests = await _three_verre(sessions, tmp_path, "d")
    sync_url = migrated_url.set(
        drivername="sqlite" if migrated_url.get_backend_name() == "sqlite" else "mysql+pymysql"
    )
    original = harvest_module._add
    corrected: list[str] = []

    def add_while_corrected(session: AsyncSession, data_dir: Path, photo: Any) -> bool:
        if not corrected:  # another connection: the bot recording the user's correction
            engine = create_sync_engine(sync_url)
            with engine.begin() as connection:
                connection.execute(
                    update(UserPrediction)
                    .where(UserPrediction.image_sha256 == photo.digest)
                    .values(
                        corrected_class="papier",
                        confirmed_at=CONFIRMED + timedelta(days=1),
                        harvested_at=None,
                    )
                )
            engine.dispose()
            corrected.append(photo.digest)
        return original(session, data_dir, photo)

    monkeypatch.setattr(harvest_module, "_add", add_while_corrected)
    assert (await _harvest(sessions, tmp_path)).added == {"verre": 3}
    monkeypatch.setattr(harvest_module, "_add", original)
    async with sessions() as session:
        waiting = await session.scalar(
            select(UserPrediction).where(UserPrediction.image_sha256 == corrected[0])
        )
    assert waiting is not None and waiting.harvested_at is None  # not marked done
    assert (await _harvest(sessions, tmp_path)).relabelled == 1
    assert (await _sample(sessions, corrected[0])).label == "papier"
    assert {(await _sample(sessions, d)).label for d in digests if d != corrected[0]} == {"verre"}
