"""``dumpin harvest``: confirmed photos of consenting users become training and test samples."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.categories import CLASSES
from db.models import HeldOutSample, TrainingSample, User, UserPrediction, utcnow

SPLIT_BUCKETS = 20
"""``int(sha[-8:], 16) % 20``: 0-13 train (70 %), 14-16 val (15 %), 17-19 test (15 %)."""


def split_of(digest: str) -> str:
    """The deterministic split of an image, from its SHA-256."""
    bucket = int(digest[-8:], 16) % SPLIT_BUCKETS
    return "train" if bucket < 14 else "val" if bucket < 17 else "test"


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
            _add(session, data_dir, photo)
            done += photo.prediction_ids
        report.added[name] = len(photos)
    if done:
        await session.execute(
            update(UserPrediction).where(UserPrediction.id.in_(done)).values(harvested_at=utcnow())
        )
    return report


def _add(session: AsyncSession, data_dir: Path, photo: _Photo) -> None:
    split = split_of(photo.digest)
    extension = photo.source.suffix.lstrip(".") or "jpg"
    relative = dataset_path(photo.digest, photo.label, split, extension)
    _link_or_copy(photo.source, data_dir / relative)
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


def _link_or_copy(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` without its EXIF block (camera, time, GPS position), else
    as a hard link (a copy across file systems); atomic, idempotent."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        if not _write_without_exif(source, partial):
            try:
                os.link(source, partial)
            except OSError:
                shutil.copyfile(source, partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write_without_exif(source: Path, target: Path) -> bool:
    """Re-encode ``source`` upright and without metadata; False when it carries no EXIF
    (or is not an image Pillow reads), so the file can be linked unchanged."""
    try:
        with Image.open(source) as image:
            if not image.getexif():
                return False
            image_format = image.format
            clean = ImageOps.exif_transpose(image)
            clean.info = {}
            clean.save(target, format=image_format, quality=95)
    except (OSError, SyntaxError, ValueError):
        return False
    return True
