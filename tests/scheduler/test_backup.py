"""Backups: consistent dumps while the bot writes, restore round trips, naming, retention."""

from __future__ import annotations

import asyncio
import gzip
import os
import sqlite3
import stat
import tarfile
import threading
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import DumpinError
from bot.stats_text import PARIS
from db import backups
from db.media import MediaStore
from db.models import Backup, User, UserPrediction
from db.session import create_engine, session_factory
from scheduler.backup import backup_name, list_backups, prune, write_backup
from scheduler.dump import mysql_connection
from scheduler.jobs import backup_job, record_backups
from scheduler.media_archive import archive_media, extract_media
from scheduler.recovery import restore_service
from scheduler.restore import restore_database
from tests.bot.conftest import ADMIN_ID, start_bot
from tests.conftest import bot_settings
from tests.scheduler.dbsnap import snapshot, wipe
from tests.scheduler.test_harvest import tiny_jpeg


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


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backups_are_private(tmp_path: Path) -> None:
    url = URL.create("sqlite+aiosqlite", database=str(tmp_path / "dumpin.db"))
    sqlite3.connect(tmp_path / "dumpin.db").close()
    directory = tmp_path / "backups"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)  # as earlier versions left it, with a world-readable backup
    old = directory / "202401010000.dumpin.sql.gz"
    old.write_bytes(gzip.compress(b"-- old\n"))
    os.chmod(old, 0o644)
    MediaStore(tmp_path).save(tiny_jpeg("a"))
    report = write_backup(url, tmp_path, keep=8)
    tar, _, _ = archive_media(tmp_path, keep=8)
    assert tar is not None
    assert _mode(directory) == 0o700
    assert [_mode(p) for p in (old, report.path, tar)] == [0o600] * 3


def _names(archives: list[Path]) -> set[str]:
    names: set[str] = set()
    for archive in archives:
        with tarfile.open(archive) as tar:
            names.update(tar.getnames())
    return names


def test_media_archives_hold_the_service_and_are_pruned(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    _, kept = store.save(tiny_jpeg("kept"))
    _, forgotten = store.save(tiny_jpeg("forgotten"))
    for name in ("dataset/train/verre/ab.jpg", "models/v2/head.npz", "models/.v3.partial/x"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    first, count, _ = archive_media(tmp_path, keep=2, when=datetime(2024, 1, 7))
    assert first is not None and count == 4  # photos, harvested samples, models; no partials
    assert _names([first]) == {kept, forgotten, "dataset/train/verre/ab.jpg", "models/v2/head.npz"}
    assert archive_media(tmp_path, keep=2, when=datetime(2024, 1, 14)) == (None, 0, [])
    store.delete(forgotten)  # /oublier
    _, late = store.save(tiny_jpeg("late"))
    second, count, removed = archive_media(tmp_path, keep=2, when=datetime(2024, 1, 21))
    assert second is not None and count == 1 and removed == []
    third, count, removed = archive_media(tmp_path, keep=2, when=datetime(2024, 1, 28))
    assert removed == [first]  # pruned like SQL backups: the forgotten photo is gone from them
    assert third is not None and count == 3  # what only the pruned archive held is carried over
    archives = sorted((tmp_path / "backups").glob("*.media.tar"))
    assert archives == [second, third]
    assert _names(archives) == {kept, late, "dataset/train/verre/ab.jpg", "models/v2/head.npz"}
    elsewhere = tmp_path / "new-machine"
    assert extract_media(elsewhere, tmp_path / "backups") == 4
    restored = sorted(p for p in elsewhere.rglob("*") if p.is_file())
    assert {p.relative_to(elsewhere).as_posix() for p in restored} == _names(archives)
    assert {_mode(p) for p in restored} == {0o600}


PADDING_ROWS, PADDING_CHARS = 7_500, 2_000
"""15 MB of SQL: the dump a restore must not hold in memory."""


def _pad(url: URL) -> None:
    """A table of ``PADDING_ROWS`` rows of text (a restore replays any table of the dump)."""
    rows = [(i, f"{i:08d}" + "x" * PADDING_CHARS) for i in range(PADDING_ROWS)]
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as db:
            db.execute("CREATE TABLE padding (id INTEGER PRIMARY KEY, body TEXT)")
            db.executemany("INSERT INTO padding VALUES (?, ?)", rows)
        return
    connection = mysql_connection(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE padding (id INT PRIMARY KEY, body TEXT)")
            cursor.executemany("INSERT INTO padding VALUES (%s, %s)", rows)
        connection.commit()
    finally:
        connection.close()


def _restore_peak(url: URL, backup: Path) -> int:
    """Peak bytes the Python heap grew by while ``backup`` was restored."""
    tracemalloc.start()
    try:
        restore_database(url, backup, overwrite=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_restore_streams_the_dump(migrated_url: URL, tmp_path: Path) -> None:
    await asyncio.to_thread(_pad, migrated_url)
    backup = await asyncio.to_thread(write_backup, migrated_url, tmp_path, 8)
    with gzip.open(backup.path, "rb") as dump:
        assert sum(len(block) for block in iter(lambda: dump.read(1 << 20), b"")) > 15e6
    peak = await asyncio.to_thread(_restore_peak, migrated_url, backup.path)
    assert peak < 8e6  # the 15 MB script was never held, one statement at a time
    restored = await asyncio.to_thread(snapshot, migrated_url)
    assert len(restored["padding"]) == PADDING_ROWS


async def test_the_bot_reports_backups_it_cannot_see(migrated_url: URL, tmp_path: Path) -> None:
    """In the compose stack only the scheduler mounts the backups volume: the bot must learn
    of the last backup from the database, and a restore must not take that knowledge back."""
    async for bot in start_bot(migrated_url, tmp_path / "bot"):
        scheduler = bot.settings.model_copy(update={"data_dir": tmp_path / "scheduler"})
        backup = await backup_job(scheduler, threading.Event())
        admin = bot.tg.user(ADMIN_ID)
        figures = (await bot.reply(await bot.tg.send_command(admin, "/stats"))).params["text"]
    assert not (tmp_path / "bot" / "backups").exists()
    written = datetime.fromtimestamp(backup.path.stat().st_mtime, PARIS)
    assert f"Dernière sauvegarde : {written:%Y-%m-%d %H:%M}" in figures

    await restore_service(scheduler, backup.path, overwrite=True, media=False)
    async with session_factory(engine := create_engine(migrated_url))() as session:
        assert list(await session.scalars(select(Backup.name))) == [backup.path.name]
    await engine.dispose()


async def test_the_backups_table_follows_the_folder(migrated_url: URL, tmp_path: Path) -> None:
    settings = bot_settings("http://127.0.0.1:9", tmp_path, migrated_url, backup_keep=2)
    for day in (1, 2, 3):
        await asyncio.to_thread(write_backup, migrated_url, tmp_path, 2, datetime(2026, 11, day))
    kept = list_backups(tmp_path / "backups")
    kept[0].unlink()
    await record_backups(settings)
    engine = create_engine(migrated_url)
    async with session_factory(engine)() as session:
        rows = list(await session.scalars(select(Backup)))
        assert [(r.name, r.size) for r in rows] == [(kept[1].name, kept[1].stat().st_size)]
        assert await backups.latest(session) == rows[0].written_at
    await engine.dispose()
