"""``dumpin harvest``: confirmed photos of consenting users become training and test samples."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.categories import CLASSES
from db.media import extension_of
from db.models import HeldOutSample, TrainingSample, User, UserPrediction, table, utcnow
from db.scrub import UnreadableImage, scrubbed
from db.splits import split_of


def dataset_path(digest: str, label: str, split: str, extension: str) -> str:
    """Where a harvested image lives, relative to the data dir (no user id in it)."""
    return f"dataset/{split}/{label}/{digest}.{extension}"


@dataclass(frozen=True)
class _Read:
    """A prediction row as the harvest read it: marked done only if still so."""

    id: int
    corrected_class: str | None
    confirmed_at: datetime | None


@dataclass(frozen=True)
class _Photo:
    digest: str
    source: Path
    label: str
    rows: list[_Read]


@dataclass
class HarvestReport:
    """Per-class samples added and waiting, samples relabelled, and photos set aside."""

    added: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    relabelled: int = 0
    duplicates: int = 0
    conflicting: int = 0
    missing_files: int = 0
    unreadable: int = 0


async def harvest(session: AsyncSession, data_dir: Path, min_per_class: int) -> HarvestReport:
    """Add every class that has at least ``min_per_class`` new photos, and give a sample the
    label its photo was corrected to since it was harvested (the caller commits). A row is
    marked harvested only if nobody confirmed or corrected it again since it was read."""
    by_digest = await _confirmed(session)
    known = await _known_samples(session, list(by_digest))
    report = HarvestReport()
    done: list[_Read] = []
    fresh: dict[str, list[_Photo]] = defaultdict(list)
    for digest, entries in by_digest.items():
        read = [entry[0] for entry in entries]
        labels = {entry[2] for entry in entries}
        source = data_dir / entries[-1][1]
        if len(labels) > 1 or not labels <= set(CLASSES):
            report.conflicting += 1
        elif digest in known:
            if _relabel(known[digest], labels.pop(), data_dir):
                report.relabelled += 1
            else:
                report.duplicates += 1
            done += read
        elif not source.is_file():
            report.missing_files += 1
            done += read
        else:
            fresh[labels.pop()].append(_Photo(digest, source, entries[-1][2], read))
    for name, photos in sorted(fresh.items()):
        if len(photos) < min_per_class:
            report.waiting[name] = len(photos)
            continue
        for photo in photos:
            if _add(session, data_dir, photo):
                report.added[name] = report.added.get(name, 0) + 1
            else:
                report.unreadable += 1
            done += photo.rows
    await _mark_done(session, done)
    return report


async def _confirmed(session: AsyncSession) -> dict[str, list[tuple[_Read, str, str]]]:
    """Confirmed photos of consenting users not harvested yet: per image hash, each row as
    read, its stored path and its label."""
    label = func.coalesce(UserPrediction.corrected_class, UserPrediction.predicted_class)
    rows = await session.execute(
        select(
            UserPrediction.id,
            UserPrediction.image_sha256,
            UserPrediction.image_path,
            label,
            UserPrediction.corrected_class,
            UserPrediction.confirmed_at,
        )
        .join(User, User.id == UserPrediction.user_id)
        .where(
            User.consent_at.is_not(None),
            UserPrediction.confirmed_at.is_not(None),
            UserPrediction.harvested_at.is_(None),
            UserPrediction.image_path.is_not(None),
        )
        .order_by(UserPrediction.id)
    )
    by_digest: dict[str, list[tuple[_Read, str, str]]] = defaultdict(list)
    for prediction_id, digest, path, name, corrected, confirmed in rows:
        by_digest[digest].append((_Read(prediction_id, corrected, confirmed), path or "", name))
    return by_digest


async def _known_samples(
    session: AsyncSession, digests: list[str]
) -> dict[str, TrainingSample | HeldOutSample]:
    """The dataset rows of these images, by hash."""
    found: dict[str, TrainingSample | HeldOutSample] = {}
    for start in range(0, len(digests), 500):
        chunk = digests[start : start + 500]
        train = await session.scalars(
            select(TrainingSample).where(TrainingSample.image_sha256.in_(chunk))
        )
        found.update({row.image_sha256: row for row in train})
        test = await session.scalars(
            select(HeldOutSample).where(HeldOutSample.image_sha256.in_(chunk))
        )
        found.update({row.image_sha256: row for row in test})
    return found


def _relabel(sample: TrainingSample | HeldOutSample, label: str, data_dir: Path) -> bool:
    """Give a harvested sample its new label and move its file to that class's folder; False
    when it already has it (or is a base sample, whose label users do not change)."""
    if sample.label == label or sample.source != "user":
        return False
    split = sample.subset if isinstance(sample, TrainingSample) else "test"
    old = Path(sample.path)
    relative = dataset_path(sample.image_sha256, label, split, old.suffix.lstrip("."))
    target = data_dir / relative
    if (data_dir / old).is_file():  # else moved by a run whose commit failed, or not restored
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data_dir / old, target)
    sample.label, sample.path, sample.added_at = label, relative, utcnow()
    return True


async def _mark_done(session: AsyncSession, done: list[_Read]) -> None:
    """Mark the rows harvested, each only if its confirmation and label are still those read
    (a correction made meanwhile waits for the next harvest)."""
    if not done:
        return
    predictions = table(UserPrediction)
    await session.execute(
        update(predictions)
        .where(
            predictions.c.id == bindparam("row_id"),
            predictions.c.confirmed_at == bindparam("read_confirmed"),
            predictions.c.corrected_class.is_not_distinct_from(bindparam("read_corrected")),
        )
        .values(harvested_at=utcnow()),
        [
            {"row_id": r.id, "read_confirmed": r.confirmed_at, "read_corrected": r.corrected_class}
            for r in done
        ],
    )


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
