"""Restore a ``*.dumpin.sql.gz`` backup into the configured database, then check row counts.

The dump is streamed twice, never held in memory: a first pass checks that it is complete
(gzip checksum, row counts or the dump tool's last line) before anything is dropped, the
second runs it statement by statement.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from bot.errors import DumpinError
from scheduler.dump import MANIFEST_PREFIX, mysql_connection

_INSERT = re.compile(r'INSERT INTO [`"]?(\w+)[`"]?', re.IGNORECASE)
_TOOL_TRAILER = "-- Dump completed"
_SKIPPED = ("alembic_version", "sqlite_sequence")


@dataclass(frozen=True)
class RestoreReport:
    """Rows now in each restored table."""

    rows: dict[str, int]


def restore_database(url: URL, backup: Path, overwrite: bool = False) -> RestoreReport:
    """Replace the database at ``url`` with the content of ``backup`` (blocking).

    Refuses a database that holds rows unless ``overwrite``; raises :class:`DumpinError`
    when the file is truncated or the restored row counts differ from the backup's.
    """
    if not backup.is_file():
        raise DumpinError(f"backup {backup} not found")
    manifest = _check(backup)
    sqlite = url.get_backend_name() == "sqlite"
    connection: Any = _sqlite_connection(url) if sqlite else mysql_connection(url)
    try:
        existing = _row_counts(connection, sqlite)
        if not overwrite and any(n for t, n in existing.items() if t not in _SKIPPED):
            raise DumpinError("the database is not empty: pass --yes to replace its content")
        _drop_tables(connection, sqlite, existing)
        with _lines(backup) as lines:
            inserted = _execute(connection, _statements(lines, sqlite))
        restored = _row_counts(connection, sqlite)
    finally:
        connection.close()
    expected = manifest if manifest is not None else dict(inserted)
    wrong = {t: (n, restored.get(t, 0)) for t, n in expected.items() if restored.get(t, 0) != n}
    if wrong:
        details = ", ".join(f"{t}: {a} expected, {b} found" for t, (a, b) in wrong.items())
        raise DumpinError(f"row counts differ after restore: {details}")
    return RestoreReport(rows={t: restored[t] for t in sorted(restored) if t not in _SKIPPED})


@contextmanager
def _lines(backup: Path) -> Iterator[Iterator[str]]:
    """The dump's lines without their ``\\n`` (split on ``\\n`` only), read as they come."""
    try:
        with gzip.open(backup, "rt", encoding="utf-8", newline="\n") as handle:
            yield (line.removesuffix("\n") for line in handle)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DumpinError(f"cannot read {backup.name}: {exc}") from None


def _check(backup: Path) -> dict[str, int] | None:
    """Read the whole dump once; its row counts (None for a dump tool's file, which must then
    end with the tool's last line)."""
    with _lines(backup) as lines:
        first = next(lines, "")
        last = deque(lines, maxlen=5)
    if first.startswith(MANIFEST_PREFIX):
        counts: dict[str, int] = json.loads(first.removeprefix(MANIFEST_PREFIX))
        return counts
    if not any(line.startswith(_TOOL_TRAILER) for line in last):
        raise DumpinError(f"{backup.name} is incomplete (no row counts, no end-of-dump line)")
    return None


def _sqlite_connection(url: URL) -> sqlite3.Connection:
    path = Path(url.database or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(path, timeout=15, isolation_level=None)


def _statements(lines: Iterable[str], sqlite: bool) -> Iterator[str]:
    """Split the script into statements (SQLite's own parser decides where one ends)."""
    pending: list[str] = []
    for line in lines:
        if not pending and (not line.strip() or line.startswith("--")):
            continue
        pending.append(line)
        statement = "\n".join(pending)
        done = sqlite3.complete_statement(statement) if sqlite else line.rstrip().endswith(";")
        if done:
            yield statement
            pending = []
    if pending:
        raise DumpinError("the backup ends in the middle of a statement")


def _execute(connection: Any, statements: Iterable[str]) -> Counter[str]:
    """Run each statement; returns the rows inserted per table."""
    inserted: Counter[str] = Counter()
    cursor = connection.cursor()
    try:
        for statement in statements:
            cursor.execute(statement)
            match = _INSERT.match(statement)
            if match and match.group(1) not in _SKIPPED:
                inserted[match.group(1)] += max(cursor.rowcount, 0)
        connection.commit()
    finally:
        cursor.close()
    return inserted


def _tables(connection: Any, sqlite: bool) -> list[str]:
    cursor = connection.cursor()
    try:
        if sqlite:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
        return sorted(row[0] for row in cursor.fetchall())
    finally:
        cursor.close()


def _row_counts(connection: Any, sqlite: bool) -> dict[str, int]:
    quote = '"' if sqlite else "`"
    cursor = connection.cursor()
    try:
        counts = {}
        for name in _tables(connection, sqlite):
            cursor.execute(f"SELECT COUNT(*) FROM {quote}{name}{quote}")
            counts[name] = int(cursor.fetchone()[0])
        return counts
    finally:
        cursor.close()


def _drop_tables(connection: Any, sqlite: bool, tables: Iterable[str]) -> None:
    """Empty the database so that the script recreates it exactly (extra tables included)."""
    cursor = connection.cursor()
    try:
        if sqlite:
            cursor.execute("PRAGMA foreign_keys=OFF")
            for name in tables:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
        else:
            cursor.execute("SET FOREIGN_KEY_CHECKS=0")
            for name in tables:
                cursor.execute(f"DROP TABLE IF EXISTS `{name}`")
            cursor.execute("SET FOREIGN_KEY_CHECKS=1")
        connection.commit()
    finally:
        cursor.close()
