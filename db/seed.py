"""Idempotent loading of the reference data: a second run changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import reference
from db.models import Department, Nomenclature, Region, table
from db.upsert import upsert


@dataclass(frozen=True)
class SeedReport:
    """How many rows of one table the seed inserted, updated or left alone."""

    table: str
    inserted: int
    updated: int
    unchanged: int


async def _sync(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> SeedReport:
    columns = list(rows[0])
    existing = {
        tuple(row[k] for k in keys): dict(row)
        for row in (await session.execute(select(*(table.c[c] for c in columns)))).mappings()
    }
    changed = [row for row in rows if existing.get(tuple(row[k] for k in keys)) != row]
    inserted = sum(1 for row in changed if tuple(row[k] for k in keys) not in existing)
    await upsert(session, table, changed, keys)
    return SeedReport(table.name, inserted, len(changed) - inserted, len(rows) - len(changed))


async def seed(session: AsyncSession) -> list[SeedReport]:
    """Load régions, départements and nomenclatures (the caller commits)."""
    return [
        await _sync(session, table(Region), reference.regions(), ["code"]),
        await _sync(session, table(Department), reference.departments(), ["code"]),
        await _sync(
            session,
            table(Nomenclature),
            reference.nomenclatures(),
            ["department_code", "waste_category"],
        ),
    ]
