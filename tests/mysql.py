"""Throw-away MariaDB/MySQL databases for tests and benchmarks (server from the environment)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

MYSQL_URL = os.environ.get("DUMPIN_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/")


def admin_url() -> URL:
    """The server as a synchronous (PyMySQL) URL without a database."""
    return make_url(MYSQL_URL).set(drivername="mysql+pymysql", database=None)


@contextmanager
def scratch_database(prefix: str) -> Iterator[URL]:
    """A new utf8mb4 database named ``<prefix>_<random>``, dropped on exit (async URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    try:
        yield make_url(MYSQL_URL).set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
