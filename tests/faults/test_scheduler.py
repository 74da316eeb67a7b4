"""Scheduler jobs killed with SIGKILL halfway: no half-written backup or model is ever
taken as good, and the next run succeeds."""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL

from bench.botproc import DATASET, REPO, database, scalar
from ml.classifier import Classifier
from scheduler.backup import backup_dir, list_backups

ROWS = 300_000


def environment(url: URL, data_dir: Path, **extra: str) -> dict[str, str]:
    """The scheduler's environment for a test database and data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUMPIN_")}
    return env | {
        "DUMPIN_DATA_DIR": str(data_dir),
        "DUMPIN_DATABASE_URL": url.render_as_string(hide_password=False),
        **extra,
    }


async def dumpin(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """Start ``dumpin ARGS`` (``python -m bot``)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def kill_when(process: asyncio.subprocess.Process, ready: Callable[[], bool]) -> bool:
    """SIGKILL ``process`` as soon as ``ready()``; False when it ended first."""
    while process.returncode is None:
        if ready():
            process.kill()
            await process.wait()
            return True
        await asyncio.sleep(0.005)
    return False


def fill(path: str) -> None:
    """``ROWS`` predictions, so a dump takes long enough to be interrupted."""
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO users (id, language, created_at, last_seen_at) "
            "VALUES (1, 'fr', '2024-01-01', '2024-01-01')"
        )
        db.executemany(
            "INSERT INTO users_predictions (user_id, update_id, image_sha256, predicted_class, "
            "confidence, top3, model_version, created_at) "
            "VALUES (1, ?, ?, 'verre', 0.5, '[]', 'v1', '2024-01-01')",
            ((i, f"{i:064x}") for i in range(ROWS)),
        )


async def test_backup_killed(tmp_path: Path) -> None:
    async with database("sqlite", tmp_path) as url:
        await asyncio.to_thread(fill, str(url.database))
        env = environment(url, tmp_path)
        directory = backup_dir(tmp_path)
        process = await dumpin(env, "backup")
        partials = lambda: any(p.stat().st_size for p in directory.glob(".*.partial"))  # noqa: E731
        assert await kill_when(process, partials), "the backup ended before it could be killed"
        assert list_backups(directory) == []
        process = await dumpin(env, "backup")
        assert await process.wait() == 0
    [backup] = list_backups(directory)
    with gzip.open(backup) as dump:
        assert str(ROWS - 1).encode() in dump.read()


def tiny_base(root: Path) -> Path:
    """Five train and two val images per class of the shared val split."""
    for folder in sorted((DATASET / "val").iterdir()):
        files = sorted(folder.iterdir())[:7]
        for split, chosen in (("train", files[:5]), ("val", files[5:])):
            (root / split / folder.name).mkdir(parents=True)
            for file in chosen:
                shutil.copyfile(file, root / split / folder.name / file.name)
    return root


async def test_retrain_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with database("sqlite", tmp_path) as url:
        env = environment(
            url,
            data_dir,
            DUMPIN_BASE_DATASET=str(tiny_base(tmp_path / "base")),
            DUMPIN_EXTRA_DATASET=str(tmp_path / "no-extra-dataset"),
        )
        # while embedding (always reached), then while writing the model folder (best effort:
        # the window is a few milliseconds)
        for marker, sure in ((data_dir / "embeddings", True), (data_dir / "models", False)):
            process = await dumpin(env, "retrain", "--no-promote")
            killed = await kill_when(process, marker.exists)
            assert killed or not sure, f"retrain ended before {marker} appeared"
            if killed:
                assert (
                    await scalar(url, "SELECT COUNT(*) FROM models WHERE status != 'active'") == 0
                )
                assert all(
                    Classifier.load(folder) for folder in (data_dir / "models").glob("[!.]*")
                )
        process = await dumpin(env, "retrain", "--no-promote")
        assert await process.wait() == 0
        path = await scalar(url, "SELECT path FROM models WHERE status = 'candidate'")
        active = await scalar(url, "SELECT path FROM models WHERE status = 'active'")
    assert Classifier.load(Path(path)).version != Classifier.load(Path(active)).version
