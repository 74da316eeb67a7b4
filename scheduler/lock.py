"""Single-instance locks: MySQL ``GET_LOCK`` on the server, an ``fcntl`` file lock for SQLite."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL

from bot.errors import DumpinError
from db.session import create_engine

POLL_SECONDS = 0.2


class LockBusy(DumpinError):
    """Another process holds the lock."""


@asynccontextmanager
async def instance_lock(url: URL, name: str, wait: float = 0.0) -> AsyncIterator[None]:
    """Hold the lock ``name`` for the database at ``url``; wait up to ``wait`` seconds for it.

    Raises :class:`LockBusy` when another process keeps it longer than that.
    """
    if url.get_backend_name() == "sqlite":
        async with _file_lock(_lock_file(url, name), name, wait):
            yield
    else:
        async with _server_lock(url, name, wait):
            yield


def _lock_file(url: URL, name: str) -> Path:
    database = url.database or ":memory:"
    if database == ":memory:":
        raise DumpinError("an in-memory SQLite database cannot be locked between processes")
    return Path(f"{database}.{name}.lock")


@asynccontextmanager
async def _file_lock(path: Path, name: str, wait: float) -> AsyncIterator[None]:
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
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@asynccontextmanager
async def _server_lock(url: URL, name: str, wait: float) -> AsyncIterator[None]:
    key = f"dumpin.{url.database}.{name}"[:64]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            got = await connection.scalar(
                text("SELECT GET_LOCK(:key, :wait)"), {"key": key, "wait": wait}
            )
            if got != 1:
                raise LockBusy(f"'{name}' is already running (server lock {key})")
            try:
                yield
            finally:
                await connection.execute(text("SELECT RELEASE_LOCK(:key)"), {"key": key})
    finally:
        await engine.dispose()
