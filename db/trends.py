"""Week-by-week figures for the admins' chart: photos, corrections, accuracy on users'
confirmed photos per model (promotions from the ``models`` table), top confusions.

Weeks start on Monday (UTC) and are bucketed in Python from per-day counts, so that one query
works on SQLite and MariaDB alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Model, UserPrediction, utcnow

WEEKS = 12
TOP_CONFUSIONS = 6
PROMOTED = ("active", "retired")
"""Statuses of models that have answered users (candidates never did)."""


@dataclass(frozen=True)
class Reviews:
    """Photos users confirmed or corrected, and how many of them the model had right."""

    reviewed: int = 0
    right: int = 0

    def __add__(self, other: Reviews) -> Reviews:
        return Reviews(self.reviewed + other.reviewed, self.right + other.right)


@dataclass(frozen=True)
class Promotion:
    """A model that went live, and when its row was recorded."""

    version: str
    at: datetime


@dataclass(frozen=True)
class Trends:
    """Everything the chart shows, for ``weeks`` (Mondays, oldest first) up to ``until``."""

    weeks: list[date]
    until: date
    photos: list[int]
    corrections: list[int]
    accuracy: dict[str, list[Reviews]]
    """Per model version (oldest first): reviews of its answers, week by week."""
    per_model: dict[str, Reviews]
    """Per model version: every review of its answers in the period."""
    promotions: list[Promotion] = field(default_factory=list)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    """``(true class, predicted class, photos)``, most frequent first."""

    @property
    def empty(self) -> bool:
        """No photo at all in the period."""
        return not any(self.photos)


def monday(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def _day(value: object) -> date:
    """A ``DATE()`` result: a ``date`` on MariaDB, an ISO string on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def collect(
    session: AsyncSession,
    now: datetime | None = None,
    weeks: int = WEEKS,
    top: int = TOP_CONFUSIONS,
) -> Trends:
    """The last ``weeks`` weeks up to ``now`` (this one included) and the ``top`` confusions."""
    now = now or utcnow()
    mondays = [monday(now.date()) - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    start = datetime.combine(mondays[0], datetime.min.time())
    index = {week: n for n, week in enumerate(mondays)}
    reviewed = UserPrediction.confirmed_at.is_not(None)
    corrected = UserPrediction.corrected_class.is_not(None)
    version = func.coalesce(Model.version, UserPrediction.model_version)
    day = func.date(UserPrediction.created_at)
    rows = await session.execute(
        select(
            day,
            version,
            func.min(UserPrediction.created_at),
            func.count(),
            func.sum(case((reviewed & corrected, 1), else_=0)),
            func.sum(case((reviewed, 1), else_=0)),
            func.sum(case((reviewed & ~corrected, 1), else_=0)),
        )
        .outerjoin(Model, Model.id == UserPrediction.model_id)
        .where(UserPrediction.created_at >= start)
        .group_by(day, version)
    )
    photos, corrections = [0] * weeks, [0] * weeks
    accuracy: dict[str, list[Reviews]] = {}
    first_seen: dict[str, datetime] = {}
    for when, name, seen, count, fixed, checked, right in rows:
        n = index.get(monday(_day(when)))
        if n is None:  # a photo dated after ``now``
            continue
        photos[n] += int(count)
        corrections[n] += int(fixed or 0)
        series = accuracy.setdefault(name, [Reviews()] * weeks)
        series[n] += Reviews(int(checked or 0), int(right or 0))
        first_seen[name] = min(seen, first_seen.get(name, seen))
    order = sorted(accuracy, key=lambda name: first_seen[name])
    accuracy = {name: accuracy[name] for name in order}
    per_model = {name: sum(series, Reviews()) for name, series in accuracy.items()}
    activated = func.coalesce(Model.activated_at, Model.created_at)  # rows from before 0006
    promotions = [
        Promotion(name, at)
        for name, at in await session.execute(
            select(Model.version, activated)
            .where(Model.status.in_(PROMOTED), activated >= start)
            .order_by(activated)
        )
    ]
    confusions = [
        (str(truth), str(guess), int(count))
        for truth, guess, count in await session.execute(
            select(UserPrediction.corrected_class, UserPrediction.predicted_class, func.count())
            .where(
                UserPrediction.created_at >= start,
                reviewed,
                corrected,
                UserPrediction.corrected_class != UserPrediction.predicted_class,
            )
            .group_by(UserPrediction.corrected_class, UserPrediction.predicted_class)
            .order_by(func.count().desc(), UserPrediction.corrected_class)
            .limit(top)
        )
    ]
    return Trends(
        mondays, now.date(), photos, corrections, accuracy, per_model, promotions, confusions
    )
