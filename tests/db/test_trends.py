"""Week-by-week figures of the admins' chart, from real rows on SQLite and MariaDB."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import trends
from db.models import Model, User, UserPrediction
from db.trends import Promotion, Reviews

NOW = datetime(2026, 11, 27, 14, 0)  # a Friday


def _photo(
    n: int,
    when: datetime,
    model: Model | None,
    predicted: str = "verre",
    truth: str | None = None,
    reviewed: bool = False,
) -> UserPrediction:
    """A photo the bot answered at ``when``; ``truth`` is what the user said it was."""
    return UserPrediction(
        user_id=1,
        update_id=n,
        image_sha256=f"{n:064x}",
        predicted_class=predicted,
        confidence=0.8,
        top3=[],
        model_id=model.id if model else None,
        model_version=model.version if model else "before-ids",
        corrected_class=truth if truth != predicted else None,
        confirmed_at=when if reviewed else None,
        created_at=when,
    )


async def _fill(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        session.add(User(id=1, language="fr", consent_at=NOW))
        old = Model(version="a-old", path="x", created_at=datetime(2026, 10, 1), status="retired")
        new = Model(
            version="b-new", path="y", created_at=datetime(2026, 11, 11, 3), status="active"
        )
        refused = Model(version="c-refused", path="z", created_at=datetime(2026, 11, 18))
        session.add_all([old, new, refused])
        await session.flush()
        session.add_all(
            [
                _photo(1, datetime(2026, 8, 1), old, reviewed=True),  # before the 12 weeks
                _photo(2, datetime(2026, 10, 6, 9), old, "metal", "electronique", reviewed=True),
                _photo(3, datetime(2026, 10, 7, 9), old, "metal", "metal", reviewed=True),
                _photo(4, datetime(2026, 10, 8, 9), None),
                _photo(5, datetime(2026, 11, 16, 0, 5), new, reviewed=True),
                _photo(6, datetime(2026, 11, 18), new),
                _photo(7, datetime(2026, 11, 22, 23, 59), new),  # Sunday: still that week
                _photo(8, datetime(2026, 11, 23), new, "verre", "plastique", reviewed=True),
                _photo(9, datetime(2026, 11, 27, 13), new, "verre", "verre", reviewed=True),
            ]
        )
        await session.commit()


async def test_weeks_models_promotions_and_confusions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _fill(sessions)
    async with sessions() as session:
        found = await trends.collect(session, NOW)
    assert len(found.weeks) == 12 and found.until == date(2026, 11, 27)
    assert (found.weeks[0], found.weeks[-1]) == (date(2026, 9, 7), date(2026, 11, 23))
    assert found.photos[-2:] == [3, 2] and found.photos[4] == 3 and sum(found.photos) == 8
    assert found.corrections[-1] == 1 and found.corrections[4] == 1 and sum(found.corrections) == 2
    assert list(found.accuracy) == ["a-old", "before-ids", "b-new"]  # in order of first answer
    assert found.accuracy["b-new"][-2:] == [Reviews(1, 1), Reviews(2, 1)]
    assert found.per_model == {
        "a-old": Reviews(2, 1),
        "before-ids": Reviews(0, 0),
        "b-new": Reviews(3, 2),
    }
    assert found.promotions == [
        Promotion("a-old", datetime(2026, 10, 1)),
        Promotion("b-new", datetime(2026, 11, 11, 3)),
    ]
    assert found.confusions == [("electronique", "metal", 1), ("plastique", "verre", 1)]
    assert not found.empty


async def test_a_promotion_is_marked_when_the_model_became_active_not_when_it_was_trained(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        session.add_all(
            [
                Model(
                    version="rolled-back-to",
                    path="x",
                    created_at=datetime(2026, 8, 1),  # trained before the 12 weeks
                    activated_at=datetime(2026, 11, 20, 8),
                    status="active",
                ),
                Model(
                    version="before-the-column",
                    path="y",
                    created_at=datetime(2026, 10, 1),
                    status="retired",
                ),
            ]
        )
        await session.commit()
    async with sessions() as session:
        found = await trends.collect(session, NOW)
    assert found.promotions == [
        Promotion("before-the-column", datetime(2026, 10, 1)),
        Promotion("rolled-back-to", datetime(2026, 11, 20, 8)),
    ]


async def test_a_new_install_has_empty_weeks(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        found = await trends.collect(session, NOW)
    assert found.empty and found.photos == [0] * 12 and found.corrections == [0] * 12
    assert (found.accuracy, found.per_model, found.promotions, found.confusions) == ({}, {}, [], [])
