"""Idempotent loading of the reference data: a second run changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import reference
from db.models import Department, Item, ItemName, Nomenclature, Region, table, utcnow
from db.upsert import upsert

SHIPPED = "ademe"
"""``items.source`` of the rows the seed keeps in line with ``db/data/items.json``."""
ITEM_COLUMNS = ("name", "name_en", "category", "what_fr", "good_fr", "bad_fr")


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


def _item_row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": record["key"],
        "name": record["name"],
        "name_en": record["name_en"],
        "category": record["category"],
        "what_fr": record["what"],
        "good_fr": record["good"],
        "bad_fr": record["bad"],
    }


async def _sync_items(session: AsyncSession, records: Sequence[dict[str, Any]]) -> SeedReport:
    """Insert new objects and update shipped ones that differ; rows an operator marked with
    another ``source`` are left alone."""
    items = table(Item)
    existing = {
        row["key"]: dict(row)
        for row in (
            await session.execute(
                select(items.c.key, items.c.source, *(items.c[c] for c in ITEM_COLUMNS))
            )
        ).mappings()
    }
    rows = [_item_row(r) for r in records]
    changed = [
        {**row, "source": SHIPPED, "updated_at": utcnow()}
        for row in rows
        if row["key"] not in existing
        or (
            existing[row["key"]]["source"] == SHIPPED
            and any(existing[row["key"]][c] != row[c] for c in ITEM_COLUMNS)
        )
    ]
    inserted = sum(1 for row in changed if row["key"] not in existing)
    await upsert(session, items, changed, ["key"])
    return SeedReport(items.name, inserted, len(changed) - inserted, len(rows) - len(changed))


async def _sync_names(session: AsyncSession, records: Sequence[dict[str, Any]]) -> SeedReport:
    """Make the names of shipped objects exactly those of the file."""
    ids = dict(
        (await session.execute(select(Item.key, Item.id).where(Item.source == SHIPPED))).all()
    )
    wanted = {
        (ids[r["key"]], language, name)
        for r in records
        if r["key"] in ids
        for language, names in (("fr", r["names"]), ("en", r["names_en"]))
        for name in names
    }
    found = {
        (item_id, language, name): row_id
        for row_id, item_id, language, name in (
            await session.execute(
                select(ItemName.id, ItemName.item_id, ItemName.language, ItemName.name).where(
                    ItemName.item_id.in_(select(Item.id).where(Item.source == SHIPPED))
                )
            )
        ).all()
    }
    stale = [row_id for key, row_id in found.items() if key not in wanted]
    if stale:
        await session.execute(delete(ItemName).where(ItemName.id.in_(stale)))
    new = [
        {"item_id": item_id, "language": language, "name": name}
        for item_id, language, name in sorted(wanted - set(found))
    ]
    if new:
        await session.execute(table(ItemName).insert(), new)
    return SeedReport(ItemName.__tablename__, len(new), len(stale), len(wanted) - len(new))


async def seed(session: AsyncSession) -> list[SeedReport]:
    """Load régions, départements, nomenclatures and items (the caller commits)."""
    records = reference.items()
    return [
        await _sync(session, table(Region), reference.regions(), ["code"]),
        await _sync(session, table(Department), reference.departments(), ["code"]),
        await _sync(
            session,
            table(Nomenclature),
            reference.nomenclatures(),
            ["department_code", "waste_category"],
        ),
        await _sync_items(session, records),
        await _sync_names(session, records),
    ]
