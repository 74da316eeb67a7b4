"""Database errors told apart, with errors raised by real databases: a lost, refused or
locked-out connection is an outage; a missing table or a broken constraint is not."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db.errors import is_outage
from db.session import create_engine
from tests.mysql import admin_url


async def error_of(engine: AsyncEngine, sql: str) -> BaseException:
    """What running ``sql`` on ``engine`` raises."""
    with pytest.raises(Exception) as raised:
        async with engine.begin() as db:
            await db.execute(text(sql))
    return raised.value


@pytest.fixture
async def engine(migrated_url: URL) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url)
    yield engine
    await engine.dispose()


async def test_faults_are_not_outages(engine: AsyncEngine) -> None:
    assert not is_outage(await error_of(engine, "SELECT * FROM no_such_table"))
    assert not is_outage(await error_of(engine, "SELEC 1"))
    insert = "INSERT INTO regions (code, name) VALUES ('zz', 'Z')"
    async with engine.begin() as db:
        await db.execute(text(insert))
    assert not is_outage(await error_of(engine, insert))
    assert not is_outage(ValueError("not a database error"))


async def test_an_exhausted_pool_is_an_outage(migrated_url: URL) -> None:
    engine = create_async_engine(migrated_url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    try:
        async with engine.connect():
            assert is_outage(await error_of(engine, "SELECT 1"))
    finally:
        await engine.dispose()


async def test_a_locked_sqlite_database_is_an_outage(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    url = make_url(f"sqlite+aiosqlite:///{path}")
    engine = create_async_engine(url, connect_args={"timeout": 0.1})
    try:
        assert is_outage(await error_of(engine, "INSERT INTO t VALUES (1)"))
    finally:
        holder.close()
        await engine.dispose()
    missing = create_sync_engine(f"sqlite:///{tmp_path}/no/such/dir.db")
    with pytest.raises(Exception) as raised:
        missing.connect()
    assert is_outage(raised.value)


@pytest.mark.mysql
async def test_unreachable_or_killed_mariadb_is_an_outage(mysql_server: URL) -> None:
    refused = create_engine(mysql_server.set(host="127.0.0.1", port=1, database="x"))
    assert is_outage(await error_of(refused, "SELECT 1"))
    await refused.dispose()
    engine = create_engine(mysql_server.set(database="mysql"))
    try:
        async with engine.connect() as db:
            own = (await db.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
            await asyncio.to_thread(_kill, int(own))
            with pytest.raises(Exception) as raised:
                await db.execute(text("SELECT 1"))
        assert is_outage(raised.value)
    finally:
        await engine.dispose()


@pytest.mark.mysql
async def test_a_lock_wait_timeout_is_an_outage(engine: AsyncEngine, db_url: URL) -> None:
    if db_url.get_backend_name() == "sqlite":
        pytest.skip("MariaDB's row locks")
    async with engine.begin() as db:
        await db.execute(text("INSERT INTO regions (code, name) VALUES ('zz', 'Z')"))
    async with engine.connect() as holder:
        await holder.execute(text("UPDATE regions SET name = 'A' WHERE code = 'zz'"))
        async with engine.connect() as waiter:
            await waiter.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
            with pytest.raises(Exception) as raised:
                await waiter.execute(text("UPDATE regions SET name = 'B' WHERE code = 'zz'"))
        assert is_outage(raised.value)


def _kill(connection_id: int) -> None:
    admin = create_sync_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f"KILL {connection_id}"))
    admin.dispose()
