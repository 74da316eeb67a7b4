"""``dumpin harvest``: confirmed photos of consenting users become training and test samples."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.categories import CLASSES
from db.media import extension_of
from db.models import HeldOutSample, TrainingSample, User, UserPrediction, utcnow
from db.scrub import UnreadableImage, scrubbed
from db.splits import split_of


def dataset_path(digest: str, label: str, split: str, extension: str) -> str:
    """Where a harvested image lives, relative to the data dir (no user id in it)."""
    return f"dataset/{split}/{label}/{digest}.{extension}"


@dataclass(frozen=True)
class _Photo:
    digest: str
    source: Path
    label: str
    prediction_ids: list[int]


@dataclass
class HarvestReport:
    """Per-class samples added and waiting, and photos set aside."""

    added: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    conflicting: int = 0
    missing_files: int = 0
    unreadable: int = 0


async def harvest(session: AsyncSession, data_dir: Path, min_per_class: int) -> HarvestReport:
    """Add every class that has at least ``min_per_class`` new photos (the caller commits)."""
    label = func.coalesce(UserPrediction.corrected_class, UserPrediction.predicted_class)
    rows = await session.execute(
        select(UserPrediction.id, UserPrediction.image_sha256, UserPrediction.image_path, label)
        .join(User, User.id == UserPrediction.user_id)
        .where(
            User.consent_at.is_not(None),
            UserPrediction.confirmed_at.is_not(None),
            UserPrediction.harvested_at.is_(None),
            UserPrediction.image_path.is_not(None),
        )
        .order_by(UserPrediction.id)
    )
    by_digest: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for prediction_id, digest, path, name in rows:
        by_digest[digest].append((prediction_id, path or "", name))
    known = set(await session.scalars(select(TrainingSample.image_sha256))) | set(
        await session.scalars(select(HeldOutSample.image_sha256))
    )
    report = HarvestReport()
    done: list[int] = []
    fresh: dict[str, list[_Photo]] = defaultdict(list)
    for digest, entries in by_digest.items():
        ids = [entry[0] for entry in entries]
        labels = {entry[2] for entry in entries}
        source = data_dir / entries[-1][1]
        if digest in known:
            report.duplicates += 1
            done += ids
        elif len(labels) > 1 or not labels <= set(CLASSES):
            report.conflicting += 1
        elif not source.is_file():
            report.missing_files += 1
            done += ids
        else:
            fresh[labels.pop()].append(_Photo(digest, source, entries[-1][2], ids))
    for name, photos in sorted(fresh.items()):
        if len(photos) < min_per_class:
            report.waiting[name] = len(photos)
            continue
        for photo in photos:
            if _add(session, data_dir, photo):
                report.added[name] = report.added.get(name, 0) + 1
            else:
                report.unreadable += 1
            done += photo.prediction_ids
    if done:
        await session.execute(
            update(UserPrediction).where(UserPrediction.id.in_(done)).values(harvested_at=utcnow())
        )
    return report


def _add(session: AsyncSession, data_dir: Path, photo: _Photo) -> bool:
    """Write the sample without metadata and record it; False when it cannot be decoded."""
    data = photo.source.read_bytes()
    split = split_of(photo.digest)
    relative = dataset_path(photo.digest, photo.label, split, extension_of(data))
    try:
        _write_clean(data, data_dir / relative)
    except UnreadableImage:
        return False
    if split == "test":
        session.add(
            HeldOutSample(
                image_sha256=photo.digest, path=relative, label=photo.label, source="user"
            )
        )
    else:
        session.add(
            TrainingSample(
                image_sha256=photo.digest,
                path=relative,
                label=photo.label,
                source="user",
                subset=split,
            )
        )
    return True


def _write_clean(data: bytes, target: Path) -> None:
    """Put the image ``data`` at ``target`` re-encoded upright without any metadata (EXIF with
    its GPS position, XMP, ICC, comments, PNG text), whatever it carries; atomic, idempotent."""
    if target.exists():
        return
    clean = scrubbed(data, target.suffix.lstrip("."))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_bytes(clean)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
