"""Users: consent, département history, language, and forgetting."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import predictions, users
from db.models import User, UserDepartment, UserPrediction, utcnow
from tests.db.factories import new_prediction


async def test_no_profile_without_consent(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert await users.get_profile(session, 1) is None
        await users.give_consent(session, 1, "en", "33")
        await session.commit()
    async with sessions() as session:
        profile = await users.get_profile(session, 1)
        assert profile == users.Profile(1, "en", "33")
        await users.withdraw_consent(session, 1)
        await session.commit()
        assert await users.get_profile(session, 1) is None


async def test_department_history_latest_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await users.give_consent(session, 7, None, None)
        for code in ("33", "75", "33"):
            await users.choose_department(session, 7, code)
            await session.commit()
            await asyncio.sleep(1.01 if code == "75" else 0.01)
        assert await users.current_department(session, 7) == "33"
        rows = await session.scalar(
            select(func.count()).select_from(UserDepartment).where(UserDepartment.user_id == 7)
        )
        assert rows == 2


async def test_forget_deletes_rows_and_returns_unshared_paths(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        for user_id in (1, 2):
            await users.give_consent(session, user_id, "fr", "44")
        await predictions.record(session, new_prediction(1, 10, "aa", "uploads/aa/aa.jpg"))
        await predictions.record(session, new_prediction(1, 11, "bb", "uploads/bb/bb.jpg"))
        await predictions.record(session, new_prediction(2, 12, "bb", "uploads/bb/bb.jpg"))
        await session.commit()
    async with sessions() as session:
        paths = await users.forget(session, 1)
        await session.commit()
    assert paths == ["uploads/aa/aa.jpg"]
    async with sessions() as session:
        assert await session.get(User, 1) is None
        assert await session.get(User, 2) is not None
        left = await session.scalars(select(UserPrediction.user_id))
        assert list(left) == [2]


async def test_activity_is_written_at_most_every_ten_minutes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    last_seen = select(User.last_seen_at).where(User.id == 5)
    async with sessions() as session:
        await users.give_consent(session, 5, "fr", None)
        await session.commit()
        fresh = await users.get_profile(session, 5)
        assert fresh is not None and not await users.touch(session, fresh)
        an_hour_ago = utcnow() - timedelta(hours=1)
        await session.execute(update(User).where(User.id == 5).values(last_seen_at=an_hour_ago))
        await session.commit()
        stale = await users.get_profile(session, 5)
        assert stale is not None and await users.touch(session, stale)
        await session.commit()
        seen = await session.scalar(last_seen)
        assert seen is not None and utcnow() - seen < timedelta(minutes=1)
