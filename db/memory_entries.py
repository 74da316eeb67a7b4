"""Rows of the classifier's nearest-neighbour memory: one per confirmed photo of a consenting
user (train split only), keyed by its own id so that other processes can follow additions and
deletions. Vectors are opaque here (``str``); the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import MemoryEntry

LOAD_BATCH = 1000
"""Rows read per query when loading vectors (3.4 MB of text each time)."""


@dataclass(frozen=True)
class StoredEntry:
    """One memory row as the classifier needs it."""

    id: int
    label: str
    vector: str


async def put(
    session: AsyncSession,
    prediction_id: int,
    user_id: int,
    backbone: str,
    label: str,
    vector: str,
) -> tuple[int, int | None]:
    """Record the entry of a prediction, replacing the one it had (a new id, so that other
    processes see the change); returns the new id and the replaced one."""
    old = await session.scalar(
        select(MemoryEntry.id).where(MemoryEntry.prediction_id == prediction_id)
    )
    if old is not None:
        await session.execute(delete(MemoryEntry).where(MemoryEntry.id == old))
        await session.flush()
    row = MemoryEntry(
        prediction_id=prediction_id, user_id=user_id, backbone=backbone, label=label, vector=vector
    )
    session.add(row)
    await session.flush()
    return row.id, old


async def ids(session: AsyncSession, backbone: str, limit: int) -> list[int]:
    """Ids of the newest ``limit`` entries computed by ``backbone``, oldest first."""
    newest = await session.scalars(
        select(MemoryEntry.id)
        .where(MemoryEntry.backbone == backbone)
        .order_by(MemoryEntry.id.desc())
        .limit(limit)
    )
    return sorted(newest)


async def load(session: AsyncSession, entry_ids: Sequence[int]) -> list[StoredEntry]:
    """The entries of ``entry_ids`` that still exist (at most :data:`LOAD_BATCH` ids)."""
    rows = await session.execute(
        select(MemoryEntry.id, MemoryEntry.label, MemoryEntry.vector).where(
            MemoryEntry.id.in_(entry_ids)
        )
    )
    return [StoredEntry(r.id, r.label, r.vector) for r in rows]


async def of_user(session: AsyncSession, user_id: int) -> list[int]:
    """Ids of a user's entries."""
    return list(await session.scalars(select(MemoryEntry.id).where(MemoryEntry.user_id == user_id)))


async def delete_for_user(session: AsyncSession, user_id: int) -> None:
    """Remove a user's entries (/oublier, inactivity)."""
    await session.execute(delete(MemoryEntry).where(MemoryEntry.user_id == user_id))
