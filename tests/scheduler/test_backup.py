"""Backups: consistent dumps while the bot writes, restore round trips, naming, retention."""

from __future__ import annotations

import asyncio
import gzip
import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import DumpinError
from db.media import MediaStore
from db.models import User, UserPrediction
from scheduler.backup import archive_media, backup_name, list_backups, prune, write_backup
from scheduler.restore import restore_database
from tests.scheduler.dbsnap import snapshot, wipe


async def _fill(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        session.add(User(id=1, language="fr", consent_at=datetime(2024, 5, 1, 12, 30)))
        await session.flush()
        session.add(
            UserPrediction(
                user_id=1,
                update_id=10,
                image_sha256="ab" * 32,
                image_path="uploads/ab/x.jpg",
                predicted_class="verre",
                confidence=0.875,
                top3=[{"label": "verre", "confidence": 0.875}],
                model_version="v1",
                corrected_class=None,
            )
        )
        session.add(User(id=2, language="en"))  # quote, backslash, newline, non-ASCII below
        await session.commit()
    async with sessions() as session:
        row = await session.get(User, 2)
        assert row is not None
        row.language = "é'\\\n;"[:8]
        await session.commit()


# On SQLite both variants take the online backup API; on MariaDB they differ.
@pytest.mark.parametrize("tool", ["auto", None], ids=["dump-tool", "built-in"])
async def test_round_trip_while_writing(
    sessions: async_sessionmaker[AsyncSession], migrated_url: URL, tmp_path: Path, tool: str | None
) -> None:
    await _fill(sessions)
    stop = asyncio.Event()

    async def writer() -> int:
        next_id = 1000
        while not stop.is_set():
            async with sessions() as session:
                session.add(User(id=next_id, language="fr"))
                await session.commit()
            next_id += 1
        return next_id - 1000

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.05)
    report = await asyncio.to_thread(write_backup, migrated_url, tmp_path, 8, None, tool)
    stop.set()
    written = await task
    assert written > 0
    live = await asyncio.to_thread(snapshot, migrated_url)
    await asyncio.to_thread(wipe, migrated_url)
    restored = await asyncio.to_thread(restore_database, migrated_url, report.path)
    after = await asyncio.to_thread(snapshot, migrated_url)

    assert set(after) == set(live)
    for name, rows in live.items():
        if name == "users":  # a consistent prefix of the rows the writer kept adding
            assert after[name] == rows[: len(after[name])]
            assert len(after[name]) >= 2
        else:
            assert after[name] == rows, name
    assert restored.rows["users"] == len(after["users"])
    assert restored.rows["departments"] > 90


async def test_restore_refuses_a_non_empty_database(
    sessions: async_sessionmaker[AsyncSession], migrated_url: URL, tmp_path: Path
) -> None:
    await _fill(sessions)
    report = await asyncio.to_thread(write_backup, migrated_url, tmp_path, 8)
    with pytest.raises(DumpinError, match="not empty"):
        await asyncio.to_thread(restore_database, migrated_url, report.path)
    restored = await asyncio.to_thread(restore_database, migrated_url, report.path, True)
    assert restored.rows["users"] == 2


def test_truncated_backup_is_rejected(tmp_path: Path) -> None:
    broken = tmp_path / "202401010000.dumpin.sql.gz"
    broken.write_bytes(gzip.compress(b"-- dumpin-rows: {}\nCREATE TABLE t (x int);\n")[:-6])
    url = URL.create("sqlite+aiosqlite", database=str(tmp_path / "x.db"))
    with pytest.raises(DumpinError, match="cannot read"):
        restore_database(url, broken)


def test_naming_retention_and_partial_files(tmp_path: Path) -> None:
    assert backup_name(datetime(2024, 3, 9, 23, 58)) == "202403092358.dumpin.sql.gz"
    url = URL.create("sqlite+aiosqlite", database=str(tmp_path / "dumpin.db"))
    import sqlite3

    sqlite3.connect(tmp_path / "dumpin.db").close()
    for day in range(1, 6):
        write_backup(url, tmp_path, keep=3, when=datetime(2024, 3, day, 23, 58))
    (tmp_path / "backups" / ".202403062358.dumpin.sql.gz.partial").write_bytes(b"half")
    names = [p.name for p in list_backups(tmp_path / "backups")]
    assert names == [f"2024030{d}2358.dumpin.sql.gz" for d in (3, 4, 5)]
    assert [p.name for p in prune(tmp_path / "backups", 0)] == names[:2]
    assert [p.name for p in list_backups(tmp_path / "backups")] == ["202403052358.dumpin.sql.gz"]
    write_backup(url, tmp_path, keep=3, when=datetime(2024, 3, 7, 23, 58))
    assert not list((tmp_path / "backups").glob(".*.partial"))  # the killed one is cleaned up


def test_failed_dump_leaves_no_backup(tmp_path: Path) -> None:
    url = URL.create("sqlite+aiosqlite", database=str(tmp_path / "missing.db"))
    with pytest.raises(DumpinError, match="does not exist"):
        write_backup(url, tmp_path, keep=3)
    assert os.listdir(tmp_path / "backups") == []


def test_media_archive_is_incremental(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    _, first = store.save(b"\xff\xd8one")
    tar, count = archive_media(tmp_path, datetime(2024, 1, 1))
    assert tar is not None and count == 1
    store.save(b"\xff\xd8two")
    tar2, count2 = archive_media(tmp_path, datetime(2024, 1, 2))
    assert tar2 is not None and count2 == 1
    import tarfile

    with tarfile.open(tar2) as archive:
        assert first not in archive.getnames()
    assert archive_media(tmp_path, datetime(2024, 1, 3)) == (None, 0)
