"""One upsert for both engines: ``ON CONFLICT`` on SQLite, ``ON DUPLICATE KEY`` on MySQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def upsert_statement(
    dialect: str, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> Insert:
    """Insert ``rows`` into ``table``; rows whose ``keys`` exist get their other columns updated."""
    columns = [name for name in rows[0] if name not in keys]
    if dialect == "sqlite":
        lite = sqlite.insert(table).values(list(rows))
        update = {name: lite.excluded[name] for name in columns}
        if not update:
            return lite.on_conflict_do_nothing(index_elements=list(keys))
        return lite.on_conflict_do_update(index_elements=list(keys), set_=update)
    my = mysql.insert(table).values(list(rows))
    update = {name: my.inserted[name] for name in columns} or {keys[0]: my.inserted[keys[0]]}
    return my.on_duplicate_key_update(update)


async def upsert(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Run :func:`upsert_statement` in ``session`` (the caller commits)."""
    if rows:
        dialect = session.get_bind().dialect.name
        await session.execute(upsert_statement(dialect, table, rows, keys))
