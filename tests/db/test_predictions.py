"""Predictions: idempotent by update, feedback, albums, history and stats."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import predictions, stats, users
from db.models import UserPrediction
from tests.db.factories import new_prediction


async def test_same_update_recorded_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await users.give_consent(session, 1, None, None)
        await session.commit()
    async with sessions() as session:
        first = await predictions.record(session, new_prediction(1, 99, "aa"))
        await session.commit()
    async with sessions() as session:  # Telegram redelivers the same update
        again = await predictions.record(session, new_prediction(1, 99, "aa"))
        await session.commit()
        assert first.id == again.id
        assert await session.scalar(select(func.count()).select_from(UserPrediction)) == 1


async def test_feedback_latest_choice_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await users.give_consent(session, 1, None, None)
        row = await predictions.record(session, new_prediction(1, 1, "aa", label="verre"))
        await session.commit()
        assert await predictions.owned(session, row.id, 2) is None
        mine = await predictions.owned(session, row.id, 1)
        assert mine is not None
        predictions.give_feedback(mine, "plastique")
        await session.commit()
        assert predictions.final_label(mine) == "plastique"
        predictions.give_feedback(mine, "verre")
        await session.commit()
        assert mine.corrected_class is None and mine.confirmed_at is not None


async def test_album_group_and_history(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await users.give_consent(session, 1, None, None)
        rows = [
            await predictions.record(
                session, new_prediction(1, n, f"h{n}", label=label, media_group="g1")
            )
            for n, label in ((3, "verre"), (1, "metal"), (2, "verre"))
        ]
        await session.commit()
        group = await predictions.group_of(session, rows[0])
        assert [r.update_id for r in group] == [1, 2, 3]
        past = await predictions.history(session, 1)
        assert past.total == 3
        assert past.by_class[0] == ("verre", 2)


async def test_stats_figures(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await users.give_consent(session, 1, None, None)
        a = await predictions.record(session, new_prediction(1, 1, "a", label="verre"))
        b = await predictions.record(session, new_prediction(1, 2, "b", label="verre"))
        await predictions.record(session, new_prediction(1, 3, "c", label="metal"))
        predictions.give_feedback(a, "verre")
        predictions.give_feedback(b, "plastique")
        await session.commit()
        figures = await stats.collect(session)
    assert (figures.users, figures.active_users_7d, figures.photos) == (1, 1, 3)
    assert figures.photos_today == 3 and figures.photos_7d == 3
    assert (figures.reviewed, figures.corrected) == (2, 1)
    assert figures.correction_rate == 0.5
    verre = next(c for c in figures.per_class if c.label == "verre")
    assert (verre.predicted, verre.reviewed, verre.right, verre.accuracy) == (2, 2, 1, 0.5)
    assert figures.model_version is None and figures.training_samples == 0
