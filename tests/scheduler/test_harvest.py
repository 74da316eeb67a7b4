"""Harvest: consent and confirmation filters, per-class threshold, dedup, idempotence, splits."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.media import MediaStore
from db.models import HeldOutSample, TrainingSample, User, UserPrediction
from scheduler.harvest import _link_or_copy, harvest, split_of

CONFIRMED = datetime(2024, 6, 1, 10, 0)


async def _photo(
    session: AsyncSession,
    store: MediaStore,
    user: int,
    seed: str,
    predicted: str,
    corrected: str | None = None,
    confirmed: bool = True,
) -> str:
    digest, path = store.save(b"\xff\xd8" + seed.encode())
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
        assert (tmp_path / row.path).read_bytes() == (
            tmp_path / store.relative_path(digest)
        ).read_bytes()
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


def test_dataset_copies_lose_their_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:11:25 08:00:00"  # DateTime
    exif[0x0112] = 6  # Orientation: rotate 90°
    source = tmp_path / "with-exif.jpg"
    Image.new("RGB", (40, 20), "red").save(source, exif=exif)
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (40, 20), "blue").save(plain)
    _link_or_copy(source, tmp_path / "dataset" / "a.jpg")
    _link_or_copy(plain, tmp_path / "dataset" / "b.jpg")
    with Image.open(tmp_path / "dataset" / "a.jpg") as copied:
        assert not copied.getexif()
        assert copied.size == (20, 40)  # upright
    assert (tmp_path / "dataset" / "b.jpg").read_bytes() == plain.read_bytes()
    assert os.path.samefile(plain, tmp_path / "dataset" / "b.jpg")
