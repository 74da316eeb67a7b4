"""Read or wipe a whole test database with a synchronous engine (for round-trip checks)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import URL

SYNC_DRIVERS = {"sqlite": "sqlite", "mysql": "mysql+pymysql"}


def _engine(url: URL) -> Any:
    return create_engine(url.set(drivername=SYNC_DRIVERS[url.get_backend_name()]))


def snapshot(url: URL) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered by primary key."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            meta = MetaData()
            meta.reflect(connection)
            return {
                name: [
                    tuple(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for name, table in meta.tables.items()
            }
    finally:
        engine.dispose()


def wipe(url: URL) -> None:
    """Drop every table."""
    engine = _engine(url)
    try:
        with engine.begin() as connection:
            meta = MetaData()
            meta.reflect(connection)
            meta.drop_all(connection)
    finally:
        engine.dispose()
