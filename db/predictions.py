"""Predictions of consenting users and the feedback they give on them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import UserPrediction, utcnow


@dataclass(frozen=True)
class NewPrediction:
    """What the classifier said about one photo, ready to be recorded."""

    user_id: int
    update_id: int | None
    image_sha256: str
    image_path: str | None
    label: str
    confidence: float
    top3: list[dict[str, Any]]
    model_version: str
    model_id: int | None
    department_code: str | None
    media_group: str | None


async def record(session: AsyncSession, new: NewPrediction) -> UserPrediction:
    """Insert the prediction, or return the one already recorded for the same update.

    The insert is tried first (one statement in the common case); a redelivered update hits
    the unique ``update_id``, and the session is then rolled back before the existing row is
    read, so call this first in its transaction.
    """
    row = UserPrediction(
        user_id=new.user_id,
        update_id=new.update_id,
        image_sha256=new.image_sha256,
        image_path=new.image_path,
        predicted_class=new.label,
        confidence=new.confidence,
        top3=new.top3,
        model_version=new.model_version,
        model_id=new.model_id,
        department_code=new.department_code,
        media_group=new.media_group,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        existing = await session.scalar(
            select(UserPrediction).where(UserPrediction.update_id == new.update_id)
        )
        if existing is None:
            raise
        return existing
    return row


async def owned(session: AsyncSession, prediction_id: int, user_id: int) -> UserPrediction | None:
    """The prediction if it exists and belongs to ``user_id``."""
    row = await session.get(UserPrediction, prediction_id)
    return row if row is not None and row.user_id == user_id else None


def give_feedback(row: UserPrediction, label: str) -> None:
    """Confirm (same label) or correct the prediction; the latest choice wins."""
    row.corrected_class = None if label == row.predicted_class else label
    row.confirmed_at = utcnow()
    row.harvested_at = None


async def group_of(session: AsyncSession, row: UserPrediction) -> list[UserPrediction]:
    """All predictions answered in the same reply as ``row`` (an album), in order."""
    if row.media_group is None:
        return [row]
    return list(
        await session.scalars(
            select(UserPrediction)
            .where(
                UserPrediction.media_group == row.media_group,
                UserPrediction.user_id == row.user_id,
            )
            .order_by(UserPrediction.update_id, UserPrediction.id)
        )
    )


async def stored_paths(session: AsyncSession) -> set[str]:
    """Every stored photo some prediction refers to."""
    return set(
        await session.scalars(
            select(UserPrediction.image_path)
            .where(UserPrediction.image_path.is_not(None))
            .distinct()
        )
    )


def final_label(row: UserPrediction) -> str:
    """The user's correction if any, else the model's answer."""
    return row.corrected_class or row.predicted_class


@dataclass(frozen=True)
class History:
    """A user's photos: counts by material and the latest items."""

    total: int
    by_class: list[tuple[str, int]]
    latest: list[tuple[str, bool]]
    """(material, confirmed by the user) for the most recent photos."""


async def history(session: AsyncSession, user_id: int, latest: int = 5) -> History:
    """Counts by final material and the ``latest`` most recent predictions."""
    rows = list(
        await session.scalars(
            select(UserPrediction)
            .where(UserPrediction.user_id == user_id)
            .order_by(UserPrediction.created_at.desc(), UserPrediction.id.desc())
        )
    )
    counts = Counter(final_label(row) for row in rows)
    return History(
        total=len(rows),
        by_class=counts.most_common(),
        latest=[(final_label(row), row.confirmed_at is not None) for row in rows[:latest]],
    )


async def count_for(session: AsyncSession, user_id: int) -> int:
    """How many predictions a user has."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(UserPrediction)
            .where(UserPrediction.user_id == user_id)
        )
        or 0
    )
