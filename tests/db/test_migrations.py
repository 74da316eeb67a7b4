"""Alembic migrations run unchanged on SQLite and MariaDB, up and down."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from db.migrate import downgrade, upgrade
from db.models import Base
from db.session import create_engine

EXPECTED_TABLES = {
    "regions",
    "departments",
    "users",
    "users_departments",
    "nomenclatures",
    "users_predictions",
    "training_dataset",
    "test_dataset",
    "models",
    "erasures",
    "backups",
    "memory_entries",
    "items",
    "item_names",
    "item_searches",
    "search_counts",
}


async def _tables(url: URL) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_upgrade_creates_every_table(migrated_url: URL) -> None:
    assert await _tables(migrated_url) == EXPECTED_TABLES
    assert set(Base.metadata.tables) == EXPECTED_TABLES


async def test_upgrade_is_repeatable_and_reversible(migrated_url: URL) -> None:
    await asyncio.to_thread(upgrade, migrated_url)
    await asyncio.to_thread(downgrade, migrated_url, "base")
    assert await _tables(migrated_url) == set()
    await asyncio.to_thread(upgrade, migrated_url)
    assert await _tables(migrated_url) == EXPECTED_TABLES


async def test_mysql_tables_are_utf8mb4(migrated_url: URL) -> None:
    if migrated_url.get_backend_name() != "mysql":
        return
    engine = create_engine(migrated_url)
    async with engine.connect() as connection:
        collations = (
            await connection.execute(
                text(
                    "SELECT DISTINCT table_collation FROM information_schema.tables "
                    "WHERE table_schema = DATABASE()"
                )
            )
        ).scalars()
        assert set(collations) == {"utf8mb4_unicode_ci"}
    await engine.dispose()


async def test_migrations_match_the_models(migrated_url: URL) -> None:
    engine = create_engine(migrated_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert diff == []
