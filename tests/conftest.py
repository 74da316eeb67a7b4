"""Shared fixtures: a fresh database on SQLite and on MariaDB/MySQL for each test that asks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from db.migrate import upgrade
from db.seed import seed
from db.session import create_engine, session_factory
from tests.mysql import MYSQL_URL, admin_url, scratch_database

os.environ.setdefault("PTB_TIMEDELTA", "1")  # PTB 22 warns on every RetryAfter without it

IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
"""waste-v1 and wild-v1, beside the checkout (the bot's default ``DUMPIN_BASE_DATASET``)."""


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, saying where, when the datasets the suite photographs with are absent
    (else the first photo test fails on an empty folder listing)."""
    folders = (DATASETS / "waste-v1" / "val", DATASETS / "wild-v1" / "val")
    missing = ", ".join(str(p) for p in folders if not p.is_dir())
    if missing:
        raise pytest.UsageError(
            f"the tests read the datasets beside the checkout; not found: {missing}"
        )


def bot_settings(api_url: str, data_dir: Path, url: URL, **overrides: Any) -> Settings:
    """Settings for a bot under test: the fake Bot API's token and URL, ``url`` as database."""
    from pydantic import SecretStr

    from tests.fake_telegram import DEFAULT_TOKEN

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token=SecretStr(DEFAULT_TOKEN),
        telegram_api_url=api_url,
        data_dir=data_dir,
        database_url=SecretStr(url.render_as_string(hide_password=False)),
        **overrides,
    )


@pytest.fixture(scope="session")
def mysql_server() -> URL:
    """The MariaDB/MySQL server for tests: a failure in CI, a skip elsewhere when down."""
    engine = create_sync_engine(admin_url())
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        if IN_CI:
            pytest.fail(f"MariaDB/MySQL is required in CI and is not reachable: {exc.orig}")
        pytest.skip("MariaDB/MySQL not reachable (set DUMPIN_TEST_MYSQL_URL)")
    finally:
        engine.dispose()
    return make_url(MYSQL_URL)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """An empty database on each engine; the MySQL one is created and dropped by the test."""
    if request.param == "sqlite":
        yield make_url(f"sqlite+aiosqlite:///{tmp_path / 'dumpin.db'}")
    else:
        request.getfixturevalue("mysql_server")
        with scratch_database("dumpin_test") as url:
            yield url


@pytest.fixture
async def migrated_url(db_url: URL) -> URL:
    """``db_url`` with the schema at head."""
    await asyncio.to_thread(upgrade, db_url)
    return db_url


@pytest.fixture
async def sessions(migrated_url: URL) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a migrated and seeded database."""
    engine = create_engine(migrated_url)
    factory = session_factory(engine)
    async with factory() as session:
        await seed(session)
        await session.commit()
    yield factory
    await engine.dispose()
