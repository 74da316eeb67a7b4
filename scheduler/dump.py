"""Consistent logical SQL dumps of the whole database, written to a binary stream.

SQLite: online backup API to a snapshot file, then ``iterdump``. MySQL/MariaDB: the server's
dump tool (``--single-transaction``) when installed, else a built-in dump inside one
``START TRANSACTION WITH CONSISTENT SNAPSHOT``. Built-in dumps start with a row-count
manifest line (:data:`MANIFEST_PREFIX`) that the restore checks.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pymysql
from sqlalchemy.engine import URL

from bot.errors import DumpinError

MANIFEST_PREFIX = "-- dumpin-rows: "
DUMP_TOOLS = ("mariadb-dump", "mysqldump")
INSERT_BATCH = 500


class Sink(Protocol):
    """Where the script goes (a gzip file in practice)."""

    def write(self, data: bytes, /) -> int: ...


def dump_database(url: URL, out: Sink, tool: str | None = "auto") -> str:
    """Write a SQL script recreating the database at ``url``; returns the method used.

    ``tool``: ``"auto"`` picks the server's dump tool when installed, ``None`` forces the
    built-in dump (MySQL only; SQLite always uses the built-in one).
    """
    if url.get_backend_name() == "sqlite":
        _dump_sqlite(Path(url.database or ""), out)
        return "sqlite-backup-api"
    program = find_dump_tool() if tool == "auto" else tool
    if program is None:
        _dump_mysql_builtin(url, out)
        return "built-in"
    _dump_mysql_tool(program, url, out)
    return Path(program).name


def find_dump_tool() -> str | None:
    """Path of ``mariadb-dump`` or ``mysqldump`` when one is installed."""
    for name in DUMP_TOOLS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _manifest(counts: dict[str, int]) -> bytes:
    return f"{MANIFEST_PREFIX}{json.dumps(counts, sort_keys=True)}\n".encode()


def _dump_sqlite(database: Path, out: Sink) -> None:
    if not database.is_file():
        raise DumpinError(f"SQLite database {database} does not exist")
    with tempfile.TemporaryDirectory(dir=database.parent, prefix=".backup-") as tmp:
        snapshot = Path(tmp) / "snapshot.db"
        os.close(os.open(snapshot, os.O_WRONLY | os.O_CREAT, 0o600))  # a copy of every user
        source = sqlite3.connect(database, timeout=15)
        target = sqlite3.connect(snapshot)
        try:
            source.backup(target)  # one step: a consistent copy, writers are not blocked (WAL)
        finally:
            source.close()
        try:
            _write_sqlite_script(target, out)
        finally:
            target.close()


def _write_sqlite_script(connection: sqlite3.Connection, out: Sink) -> None:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    counts = {t: connection.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    out.write(_manifest(counts))
    out.write(b"PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n")
    for name in tables:
        out.write(f'DROP TABLE IF EXISTS "{name}";\n'.encode())
    for line in connection.iterdump():
        if line != "BEGIN TRANSACTION;":
            out.write(line.encode() + b"\n")


def _dump_mysql_tool(program: str, url: URL, out: Sink) -> None:
    if not url.database:
        raise DumpinError("the database URL names no database")
    args = [
        program,
        "--single-transaction",
        "--quick",
        "--skip-lock-tables",
        "--add-drop-table",
        "--no-tablespaces",
        "--default-character-set=utf8mb4",
        "--protocol=TCP",
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 3306}",
        f"--user={url.username or 'root'}",
        url.database,
    ]
    env = {**os.environ, "MYSQL_PWD": str(url.password or "")}
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as process:
        assert process.stdout is not None and process.stderr is not None
        shutil.copyfileobj(process.stdout, out, 1 << 20)
        error = process.stderr.read().decode(errors="replace").strip()
    if process.returncode != 0:
        first = error.splitlines()[0] if error else f"exit code {process.returncode}"
        raise DumpinError(f"{Path(program).name} failed: {first}")


def mysql_connection(url: URL) -> Any:
    """A raw PyMySQL connection to ``url`` (the caller closes it)."""
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=str(url.password or ""),
        database=url.database,
        charset="utf8mb4",
    )


def _dump_mysql_builtin(url: URL, out: Sink) -> None:
    connection = mysql_connection(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
            tables = sorted(row[0] for row in cursor.fetchall())
            counts = {}
            for name in tables:
                cursor.execute(f"SELECT COUNT(*) FROM `{name}`")
                counts[name] = cursor.fetchone()[0]
            out.write(_manifest(counts))
            out.write(b"SET NAMES utf8mb4;\nSET FOREIGN_KEY_CHECKS=0;\n")
            for name in tables:
                cursor.execute(f"SHOW CREATE TABLE `{name}`")
                create = cursor.fetchone()[1]
                out.write(f"DROP TABLE IF EXISTS `{name}`;\n{create};\n".encode())
                for statement in _mysql_inserts(connection, name):
                    out.write(statement.encode() + b"\n")
            out.write(b"SET FOREIGN_KEY_CHECKS=1;\n")
        connection.commit()
    finally:
        connection.close()


def _mysql_inserts(connection: Any, table: str) -> Iterator[str]:
    """Multi-row ``INSERT`` lines for ``table``, streamed with a server-side cursor."""
    with connection.cursor(pymysql.cursors.SSCursor) as cursor:
        cursor.execute(f"SELECT * FROM `{table}`")
        while rows := cursor.fetchmany(INSERT_BATCH):
            values = ",".join(
                "(" + ",".join(connection.escape(value) for value in row) + ")" for row in rows
            )
            yield f"INSERT INTO `{table}` VALUES {values};"
