"""The erasure record: keyed hashes in the table and the file, applied again after a
restore to users older than their erasure only, expired with the backups."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import erasures, predictions, users
from db.erasures import ErasureLog, read_record
from db.models import Erasure, User, UserPrediction, utcnow
from tests.db.factories import new_prediction

USER = 5_550_123


def test_key_is_made_once_privately_unless_configured(tmp_path: Path) -> None:
    first = ErasureLog.open(tmp_path)
    assert ErasureLog.open(tmp_path).digest(USER) == first.digest(USER)
    assert stat.S_IMODE((tmp_path / "erasure.key").stat().st_mode) == 0o600
    assert len(first.digest(USER)) == 64 and str(USER) not in first.digest(USER)
    configured = ErasureLog.open(tmp_path, SecretStr("from-the-environment"))
    assert configured.digest(USER) != first.digest(USER)
    assert ErasureLog.open(tmp_path / "other", SecretStr("from-the-environment")).digest(
        USER
    ) == configured.digest(USER)  # the same on every machine that has the key


async def test_erase_records_a_keyed_hash_in_table_and_file(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    log = ErasureLog.open(tmp_path)
    async with sessions() as session:
        await users.give_consent(session, USER, "fr", "33")
        await predictions.record(session, new_prediction(USER, 1, "aa", "uploads/aa/aa.jpg"))
        await session.commit()
    async with sessions() as session:
        paths = await erasures.erase(session, log, USER)
        await session.commit()
    assert paths == ["uploads/aa/aa.jpg"]
    async with sessions() as session:
        rows = list(await session.scalars(select(Erasure)))
        assert await session.get(User, USER) is None
    assert [row.user_hash for row in rows] == [log.digest(USER)]
    assert read_record(log.path) == {log.digest(USER): rows[0].erased_at}
    assert str(USER) not in log.path.read_text()
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


async def test_reapply_spares_users_who_came_back(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    log = ErasureLog.open(tmp_path)
    async with sessions() as session:
        for user_id in (1, 2, 3):  # 1: erased later; 2: erased, then came back; 3: never
            await users.give_consent(session, user_id, "fr", "33")
            await predictions.record(session, new_prediction(user_id, user_id, f"{user_id}" * 2))
        erased_at = utcnow() + timedelta(seconds=1)
        await session.execute(
            update(User).where(User.id == 2).values(created_at=erased_at + timedelta(days=1))
        )
        await session.commit()
    recorded = {log.digest(1): erased_at, log.digest(2): erased_at}
    async with sessions() as session:
        count, _ = await erasures.reapply(session, log, recorded)
        await session.commit()
    assert count == 1
    async with sessions() as session:
        left = set(await session.scalars(select(User.id)))
        owners = set(await session.scalars(select(UserPrediction.user_id)))
    assert left == owners == {2, 3}


async def test_expire_drops_old_erasures_everywhere(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    log = ErasureLog.open(tmp_path)
    now = utcnow().replace(microsecond=0)
    old, recent = {"a" * 64: now - timedelta(days=90)}, {"b" * 64: now}
    log.append(old)
    log.append(recent)
    async with sessions() as session:
        await erasures.store(session, {**old, **recent})
        await session.commit()
    async with sessions() as session:
        assert await erasures.expire(session, log, now - timedelta(days=60)) == 1
        await session.commit()
    async with sessions() as session:
        assert await erasures.recorded(session) == recent
    assert read_record(log.path) == recent
