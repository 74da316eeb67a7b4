"""Single-instance locks: MySQL ``GET_LOCK`` on the server, an ``fcntl`` file lock for SQLite.

Both can vanish under their holder: ``GET_LOCK`` lives as long as its connection, which
``wait_timeout``, a ``KILL`` or a server restart ends; a lock file can be deleted, and the
next process then locks a new file at the same path. :meth:`Held.check` tells whether the
lock is still this process's (asking the server also keeps the connection from idling out).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from bot.errors import DumpinError
from db.session import create_engine

POLL_SECONDS = 0.2


class LockBusy(DumpinError):
    """Another process holds the lock."""


class LockLost(DumpinError):
    """The lock was taken from its holder (connection ended, lock file removed)."""


@dataclass(frozen=True)
class Held:
    """A lock being held; ``check()`` is True while it still is."""

    check: Callable[[], Awaitable[bool]]


@asynccontextmanager
async def instance_lock(url: URL, name: str, wait: float = 0.0) -> AsyncIterator[Held]:
    """Hold the lock ``name`` for the database at ``url``; wait up to ``wait`` seconds for it.

    Raises :class:`LockBusy` when another process keeps it longer than that.
    """
    if url.get_backend_name() == "sqlite":
        async with _file_lock(_lock_file(url, name), name, wait) as held:
            yield held
    else:
        async with _server_lock(url, name, wait) as held:
            yield held


def _lock_file(url: URL, name: str) -> Path:
    database = url.database or ":memory:"
    if database == ":memory:":
        raise DumpinError("an in-memory SQLite database cannot be locked between processes")
    return Path(f"{database}.{name}.lock")


@asynccontextmanager
async def _file_lock(path: Path, name: str, wait: float) -> AsyncIterator[Held]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(f"'{name}' is already running (lock {path.name})") from None
                await asyncio.sleep(POLL_SECONDS)

        async def check() -> bool:  # still the file at ``path``, not a deleted one
            try:
                on_disk = os.stat(path)
            except FileNotFoundError:
                return False
            mine = os.fstat(fd)
            return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

        try:
            yield Held(check)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@asynccontextmanager
async def _server_lock(url: URL, name: str, wait: float) -> AsyncIterator[Held]:
    key = f"dumpin.{url.database}.{name}"[:64]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            got = await connection.scalar(
                text("SELECT GET_LOCK(:key, :wait)"), {"key": key, "wait": wait}
            )
            if got != 1:
                raise LockBusy(f"'{name}' is already running (server lock {key})")

            async def check() -> bool:  # held by this very connection, which still answers
                try:
                    query = text("SELECT IS_USED_LOCK(:key) = CONNECTION_ID()")
                    return bool(await connection.scalar(query, {"key": key}))
                except DBAPIError:
                    return False

            try:
                yield Held(check)
            finally:
                with contextlib.suppress(DBAPIError):  # else the connection and lock are gone
                    await connection.execute(text("SELECT RELEASE_LOCK(:key)"), {"key": key})
    finally:
        await engine.dispose()


MODELS_LOCK_WAIT = 60.0
"""Seconds a change of the active model waits for another one to finish (each is short)."""


def models_lock(url: URL) -> AbstractAsyncContextManager[Held]:
    """The one lock under which the ``models`` table changes: a retrain recording and
    promoting its candidate, ``dumpin models activate`` (rollback), the first recording of
    the shipped model by a retrain."""
    return instance_lock(url, "models", wait=MODELS_LOCK_WAIT)
