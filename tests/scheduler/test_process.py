"""Reliability: the single-instance lock, admin alerts on failure, the scheduler process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import URL

from bench.botproc import scalar
from bot.settings import Settings
from scheduler.jobs import run_scheduled
from scheduler.lock import LockBusy, instance_lock
from scheduler.process import JOBS
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tests.faults.test_scheduler import dumpin, environment
from tests.mysql import admin_url

REPO = Path(__file__).resolve().parents[2]
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


async def test_lock_admits_one_holder(migrated_url: URL) -> None:
    async with instance_lock(migrated_url, "scheduler"):
        with pytest.raises(LockBusy, match="already running"):
            async with instance_lock(migrated_url, "scheduler", wait=0.3):
                pass
        async with instance_lock(migrated_url, "job-backup"):  # other names are independent
            pass
    async with instance_lock(migrated_url, "scheduler"):  # released
        pass


async def test_failing_job_alerts_each_admin_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[tuple[str, dict[str, object]]] = []

    async def send_message(request: web.Request) -> web.Response:
        received.append((request.path, await request.json()))
        return web.json_response({"ok": True, "result": {}})

    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", send_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = Settings(
        data_dir=tmp_path,
        telegram_token=TOKEN,  # type: ignore[arg-type]
        telegram_api_url=f"http://127.0.0.1:{port}",
        admin_ids="11,22",
        _env_file=None,  # type: ignore[call-arg]
    )

    async def broken(_settings: Settings, _stop: threading.Event) -> None:
        raise RuntimeError("disk full")

    try:
        await run_scheduled(settings, "backup", broken, threading.Event())
    finally:
        await runner.cleanup()
    assert sorted(body["chat_id"] for _, body in received) == [11, 22]  # type: ignore[type-var]
    assert all("disk full" in str(body["text"]) for _, body in received)
    assert "job backup failed" in caplog.text
    assert TOKEN not in caplog.text


def test_job_ids_are_stable() -> None:
    assert [job_id for job_id, _, _ in JOBS] == [
        "backup",
        "harvest",
        "retrain",
        "retrain-check",
        "purge",
    ]


async def _start(data_dir: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "DUMPIN_DATA_DIR": str(data_dir), "DUMPIN_LOG_LEVEL": "INFO"}
    env.pop("DUMPIN_DATABASE_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "scheduler",
        cwd=tmp_cwd(data_dir),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def tmp_cwd(data_dir: Path) -> Path:
    """Run away from the repo so that no developer ``.env`` is read."""
    return data_dir.parent


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    seen = ""
    async with asyncio.timeout(30):
        while marker not in seen:
            line = await stream.readline()
            if not line:
                break
            seen += line.decode()
    return seen


async def test_scheduler_process_lists_jobs_excludes_a_second_one_and_stops(
    tmp_path: Path,
) -> None:
    first = await _start(tmp_path / "data")
    assert first.stderr is not None
    try:
        started = await _read_until(first.stderr, "scheduler running")
        for job_id, _, _ in JOBS:
            assert f"job {job_id}: next run" in started
        second = await _start(tmp_path / "data")
        _, error = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 1
        assert "already running" in error.decode()
        first.send_signal(signal.SIGTERM)
        stopped = await _read_until(first.stderr, "scheduler stopped")
        assert "scheduler stopped" in stopped
        assert await asyncio.wait_for(first.wait(), 30) == 0
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()


def _lock_connection(url: URL) -> int:
    """The MariaDB connection holding the scheduler's ``GET_LOCK``."""
    engine = create_sync_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as db:
            holder = db.execute(
                text("SELECT IS_USED_LOCK(:key)"), {"key": f"dumpin.{url.database}.scheduler"}
            ).scalar()
            assert holder is not None, "the scheduler holds no lock"
            return int(holder)
    finally:
        engine.dispose()


def _kill(connection_id: int) -> None:
    engine = create_sync_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as db:
            db.execute(text(f"KILL {connection_id}"))
    finally:
        engine.dispose()


def _recent_backup(data_dir: Path) -> None:
    """A backup from today, so that the scheduler does not start with one."""
    directory = data_dir / "backups"
    directory.mkdir(parents=True)
    (directory / "209901010000.dumpin.sql.gz").write_bytes(b"")


async def test_scheduler_stops_when_its_lock_vanishes(migrated_url: URL, tmp_path: Path) -> None:
    """MariaDB: the lock's connection is killed (as ``wait_timeout`` or a server restart
    would end it); SQLite: the lock file is deleted. Another scheduler could then take the
    lock, so this one must stop, say so and alert."""
    data_dir = tmp_path / "data"
    _recent_backup(data_dir)
    async with FakeTelegram() as tg:
        env = environment(
            migrated_url,
            data_dir,
            DUMPIN_LOCK_CHECK_SECONDS="0.2",
            DUMPIN_ADMIN_IDS="900",
            DUMPIN_TELEGRAM_TOKEN=DEFAULT_TOKEN,
            DUMPIN_TELEGRAM_API_URL=tg.url,
        )
        process = await dumpin(env, "scheduler")
        assert process.stderr is not None
        try:
            assert "scheduler running" in await _read_until(process.stderr, "scheduler running")
            if migrated_url.get_backend_name() == "sqlite":
                await asyncio.to_thread(Path(f"{migrated_url.database}.scheduler.lock").unlink)
            else:
                await asyncio.to_thread(
                    _kill, await asyncio.to_thread(_lock_connection, migrated_url)
                )
            async with asyncio.timeout(30):
                rest = (await process.stderr.read()).decode()
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        alerts = [r.params["text"] for r in tg.requests("sendMessage")]
    assert code == 1
    assert "lost its single-instance lock" in rest and "scheduler stopped" not in rest
    assert len(alerts) == 1 and "lock" in alerts[0]


async def test_missed_weekly_backup_runs_at_start(migrated_url: URL, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    directory = data_dir / "backups"
    directory.mkdir(parents=True)
    old = directory / "202401010000.dumpin.sql.gz"
    old.write_bytes(b"")
    eight_days = time.time() - 8 * 86400
    os.utime(old, (eight_days, eight_days))
    (data_dir / "uploads" / "ab").mkdir(parents=True)
    (data_dir / "uploads" / "ab" / "ab.jpg").write_bytes(b"photo")
    process = await dumpin(environment(migrated_url, data_dir), "scheduler")
    assert process.stderr is not None
    try:
        log = await _read_until(process.stderr, "job backup finished")
        assert "no backup in the last 7 days" in log
        assert "job backup finished" in log
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert len(list(directory.glob("*.dumpin.sql.gz"))) == 2
    assert len(list(directory.glob("*.media.tar"))) == 1  # the scheduled backup has the media


async def test_backups_found_at_start_are_recorded_for_the_bot(
    migrated_url: URL, tmp_path: Path
) -> None:
    directory = tmp_path / "data" / "backups"
    directory.mkdir(parents=True)
    copied = directory / "202611260000.dumpin.sql.gz"  # e.g. brought back with the volume
    copied.write_bytes(b"x" * 10)
    process = await dumpin(environment(migrated_url, tmp_path / "data"), "scheduler")
    assert process.stderr is not None
    try:
        await _read_until(process.stderr, "scheduler running")
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert await scalar(migrated_url, "SELECT name FROM backups WHERE size = 10") == copied.name
