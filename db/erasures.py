"""The record of erased users, which restores cannot undo.

An erasure (/oublier, or inactivity) is kept as an HMAC-SHA256 of the user id and its time:
in the ``erasures`` table (written in the same transaction as the deletion) and appended to
``<data dir>/erasures.txt``, which no database restore touches. After a restore, users whose
hash is recorded and whose row is older than their erasure are erased again.

A keyed hash rather than a salted one: matching a restored database costs one HMAC per user
(a per-record salt would cost one hash per user and record), and without the key, which no
backup holds, the record cannot be turned back into ids (a plain hash of a Telegram id can:
there are only a few billion ids to try). The key comes from ``DUMPIN_ERASURE_KEY`` or else
``<data dir>/erasure.key`` (random, 0600, made at first use).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import delete, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import users
from db.models import Erasure, User, table, utcnow
from db.upsert import upsert

RECORD_FILE = "erasures.txt"
KEY_FILE = "erasure.key"

Erasures = dict[str, datetime]
"""Erased users' hashes and when each was (last) erased."""


def merge(*sources: Mapping[str, datetime]) -> Erasures:
    """Every hash of ``sources`` with its latest erasure time."""
    merged: Erasures = {}
    for source in sources:
        for digest, when in source.items():
            if digest not in merged or when > merged[digest]:
                merged[digest] = when
    return merged


def parse_record(text: str) -> Erasures:
    """The erasures of a record file's text (``<hash> <ISO time>`` lines)."""
    found: Erasures = {}
    for line in text.splitlines():
        digest, _, when = line.partition(" ")
        if len(digest) == 64 and when:
            found = merge(found, {digest: datetime.fromisoformat(when)})
    return found


def read_record(path: Path) -> Erasures:
    """The erasures listed in the record file at ``path`` (none if it is absent)."""
    try:
        return parse_record(path.read_text())
    except FileNotFoundError:
        return {}


def format_record(entries: Mapping[str, datetime]) -> str:
    """The text of a record file holding ``entries``."""
    return "".join(f"{d} {w.isoformat()}\n" for d, w in sorted(entries.items()))


def _private(path: str, flags: int) -> int:
    """Open (create) a record file 0600, its folder too."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, flags | os.O_CREAT, 0o600)


@dataclass(frozen=True)
class ErasureLog:
    """The key that hashes user ids and the record file beside the data."""

    key: bytes
    path: Path

    @classmethod
    def open(cls, data_dir: Path, configured: SecretStr | None = None) -> ErasureLog:
        """The configured key, else the data dir's key file (created once, 0600)."""
        if configured is not None and configured.get_secret_value():
            key = configured.get_secret_value().encode()
        else:
            key = _key_file(data_dir / KEY_FILE)
        return cls(key, data_dir / RECORD_FILE)

    def digest(self, user_id: int) -> str:
        """The user's keyed hash."""
        return hmac.new(self.key, str(user_id).encode(), hashlib.sha256).hexdigest()

    def append(self, entries: Mapping[str, datetime]) -> None:
        """Add erasures to the record file (one write under its lock, synced)."""
        with open(self.path, "a", opener=_private) as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(format_record(entries))
            handle.flush()
            os.fsync(handle.fileno())

    def update(self, change: Callable[[Erasures], Erasures]) -> None:
        """Rewrite the record file with ``change(its erasures)``, in place and under its lock
        (an append waiting for the lock lands in the new content)."""
        with open(self.path, "r+", opener=_private) as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            current = parse_record(handle.read())
            new = change(current)
            if new != current:
                handle.seek(0)
                handle.truncate()
                handle.write(format_record(new))
                handle.flush()
                os.fsync(handle.fileno())


def _key_file(path: Path) -> bytes:
    """The key in ``path``, written first if there is none (concurrent first uses agree)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(partial, path)  # complete or absent, never half-written
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip().encode()


async def erase(session: AsyncSession, log: ErasureLog, user_id: int) -> list[str]:
    """Delete everything about the user and record it (the caller commits, then deletes the
    returned photo paths no one else uses)."""
    paths = await users.forget(session, user_id)
    await record(session, log, [user_id])
    return paths


async def record(session: AsyncSession, log: ErasureLog, user_ids: Iterable[int]) -> None:
    """Record the erasure of ``user_ids`` now, in the table (the caller commits) and in the
    file (written first: an erasure whose commit fails is still applied after a restore,
    which only errs towards what the user asked for)."""
    now = utcnow()
    if now.microsecond:  # whole seconds, as MySQL stores them; rounded up, never before it
        now = now.replace(microsecond=0) + timedelta(seconds=1)
    entries = {log.digest(user_id): now for user_id in user_ids}
    if entries:
        await asyncio.to_thread(log.append, entries)
        await store(session, entries)


async def store(session: AsyncSession, entries: Mapping[str, datetime]) -> None:
    """Put ``entries`` into the table (their times replace the table's: merge first)."""
    rows = [{"user_hash": d, "erased_at": w} for d, w in merge(entries).items()]
    for start in range(0, len(rows), 500):
        await upsert(session, table(Erasure), rows[start : start + 500], ["user_hash"])


async def recorded(session: AsyncSession, before: datetime | None = None) -> Erasures:
    """The erasures in the table (only those older than ``before`` if given)."""
    query = select(Erasure.user_hash, Erasure.erased_at)
    if before is not None:
        query = query.where(Erasure.erased_at < before)
    return {digest: when for digest, when in await session.execute(query)}


async def recorded_if_any(session: AsyncSession) -> Erasures:
    """The table's erasures, none when the database has no such table (empty, or a schema
    from before it)."""
    connection = await session.connection()
    if not await connection.run_sync(lambda sync: inspect(sync).has_table("erasures")):
        return {}
    return await recorded(session)


async def reapply(
    session: AsyncSession, log: ErasureLog, erased: Mapping[str, datetime]
) -> tuple[int, list[str]]:
    """Erase again every user in ``erased`` whose row predates their erasure (one who came
    back afterwards keeps their new data); returns how many and the photo paths freed."""
    found = await session.execute(select(User.id, User.created_at))
    again = [
        user_id
        for user_id, created in found
        if (when := erased.get(log.digest(user_id))) is not None and created <= when
    ]
    paths: set[str] = set()
    for user_id in again:
        paths.update(await users.forget(session, user_id))
    return len(again), sorted(paths)


async def expire(session: AsyncSession, log: ErasureLog, before: datetime) -> int:
    """Forget erasures older than ``before`` (no backup holds those users any more), in the
    table and the file; returns how many were dropped."""
    old = set(await recorded(session, before))
    await session.execute(delete(Erasure).where(Erasure.erased_at < before))

    def recent(current: Erasures) -> Erasures:
        old.update(d for d, w in current.items() if w < before)
        return {d: w for d, w in current.items() if w >= before}

    await asyncio.to_thread(log.update, recent)
    return len(old)
