"""Figures for the admins' ``/stats`` and ``dumpin stats``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Model, TrainingSample, User, UserPrediction, utcnow


@dataclass(frozen=True)
class ClassStats:
    """Photos predicted as one class, and how often users agreed."""

    label: str
    predicted: int
    reviewed: int
    right: int

    @property
    def accuracy(self) -> float | None:
        """Share of reviewed predictions the user confirmed, None when none were reviewed."""
        return self.right / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class Stats:
    """Everything ``/stats`` shows."""

    users: int
    active_users_7d: int
    photos: int
    photos_today: int
    photos_7d: int
    reviewed: int
    corrected: int
    per_class: list[ClassStats]
    model_version: str | None
    model_metrics: dict[str, Any] = field(default_factory=dict)
    training_samples: int = 0
    new_samples: int = 0

    @property
    def correction_rate(self) -> float | None:
        """Share of reviewed predictions that users corrected."""
        return self.corrected / self.reviewed if self.reviewed else None


async def _count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(query) or 0)


async def collect(session: AsyncSession, now: datetime | None = None) -> Stats:
    """Compute the figures from the database."""
    now = now or utcnow()
    week = now - timedelta(days=7)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    photos = select(func.count()).select_from(UserPrediction)
    reviewed = UserPrediction.confirmed_at.is_not(None)
    corrected = UserPrediction.corrected_class.is_not(None)
    per_class = [
        ClassStats(label, int(total), int(seen or 0), int(right or 0))
        for label, total, seen, right in await session.execute(
            select(
                UserPrediction.predicted_class,
                func.count(),
                func.sum(case((reviewed, 1), else_=0)),
                func.sum(case((reviewed & ~corrected, 1), else_=0)),
            )
            .group_by(UserPrediction.predicted_class)
            .order_by(func.count().desc())
        )
    ]
    active = await session.scalar(
        select(Model).where(Model.status == "active").order_by(Model.id.desc()).limit(1)
    )
    samples = select(func.count()).select_from(TrainingSample)
    return Stats(
        users=await _count(session, select(func.count()).select_from(User)),
        active_users_7d=await _count(
            session, select(func.count()).select_from(User).where(User.last_seen_at >= week)
        ),
        photos=await _count(session, photos),
        photos_today=await _count(session, photos.where(UserPrediction.created_at >= today)),
        photos_7d=await _count(session, photos.where(UserPrediction.created_at >= week)),
        reviewed=await _count(session, photos.where(reviewed)),
        corrected=await _count(session, photos.where(reviewed & corrected)),
        per_class=per_class,
        model_version=active.version if active else None,
        model_metrics=dict(active.metrics) if active else {},
        training_samples=await _count(session, samples),
        new_samples=await _count(
            session, samples.where(TrainingSample.added_at > active.created_at)
        )
        if active
        else await _count(session, samples),
    )
