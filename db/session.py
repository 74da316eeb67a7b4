"""Engine and session factory: one of each per process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: URL, pool_size: int = 5) -> AsyncEngine:
    """An async engine tuned for the backend: SQLite in WAL mode, MySQL in utf8mb4.

    ``pool_size`` connections stay open; up to 10 more are opened and closed as needed (an
    aiosqlite connection is a thread, so a pool smaller than the concurrency churns threads).
    Statement errors never show their parameters (user ids, photo hashes): they reach logs
    and admin alerts.
    """
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": 15}, pool_size=pool_size, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    url = url.update_query_dict({"charset": "utf8mb4"})
    return create_async_engine(
        url, pool_pre_ping=True, pool_recycle=3600, pool_size=pool_size, hide_parameters=True
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def sqlite_file_missing(url: URL) -> bool:
    """True for a SQLite database file that is not there: connecting would create it."""
    if url.get_backend_name() != "sqlite" or url.database in {None, "", ":memory:"}:
        return False
    return not Path(str(url.database)).is_file()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The one session factory: sessions are committed by the caller at its boundary."""
    return async_sessionmaker(engine, expire_on_commit=False)
