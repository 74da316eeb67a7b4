"""Users' confirmed photos in the classifier's memory: learnt when confirmed, shared through
the ``memory_entries`` table with every process (bot replicas, ``dumpin classify``).

A process adds its own users' confirmations at once (:func:`learn`); :func:`watch_memory`
loads the whole table at start and then, every poll, the rows other processes added and the
removal of rows deleted elsewhere (/oublier, the retention purge).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import memory_entries
from db.categories import CLASSES
from db.session import create_engine, session_factory, sqlite_file_missing
from db.splits import split_of
from ml.classifier import Classifier
from ml.memory import Memory

log = logging.getLogger(__name__)


def encode(vector: np.ndarray) -> str:
    """A stored vector: float16, base64 (3.4 kB for 1280 dimensions)."""
    return base64.b64encode(np.asarray(vector, np.float16).tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray:
    """The float32 vector of :func:`encode`."""
    return np.frombuffer(base64.b64decode(text), np.float16).astype(np.float32)


def learns_from(image_sha256: str, image_path: str | None) -> bool:
    """Whether a confirmed photo goes into the memory: kept on disk and, by its hash, in the
    train split (photos of the val and test splits stay unseen by what is judged on them)."""
    return image_path is not None and split_of(image_sha256) == "train"


async def learn(
    sessions: async_sessionmaker[AsyncSession],
    classifier: Classifier,
    executor: Executor | None,
    photo: Path,
    *,
    prediction_id: int,
    user_id: int,
    label: str,
) -> bool:
    """Embed the stored photo (in ``executor``), record its entry and add it to this
    process's memory; False when the model has no memory or the photo is gone."""
    memory = classifier.memory
    if memory is None:
        return False
    loop = asyncio.get_running_loop()
    try:
        backbone, embedding = await loop.run_in_executor(executor, classifier.embed_path, photo)
    except (OSError, ValueError):
        log.warning("memory: the photo of prediction %d cannot be read", prediction_id)
        return False
    async with sessions() as session:
        entry, replaced = await memory_entries.put(
            session, prediction_id, user_id, backbone, label, encode(embedding)
        )
        await session.commit()
    if memory.backbone == backbone:
        if replaced is not None:
            memory.remove([replaced])
        memory.add({entry: (embedding, CLASSES.index(label))})
    return True


async def entries_of(sessions: async_sessionmaker[AsyncSession], user_id: int) -> list[int]:
    """Ids of a user's entries (read before erasing them), to drop from this process's
    memory with :func:`drop` once the erasure is committed."""
    async with sessions() as session:
        return await memory_entries.of_user(session, user_id)


def drop(classifier: Classifier, entry_ids: list[int]) -> None:
    """Remove entries from this process's memory."""
    if classifier.memory is not None:
        classifier.memory.remove(entry_ids)


async def sync(sessions: async_sessionmaker[AsyncSession], memory: Memory) -> tuple[int, int]:
    """Make ``memory`` hold the newest entries of its backbone in the table (at most its
    capacity), reading new rows a batch at a time; returns (added, removed)."""
    added = 0
    async with sessions() as session:
        wanted = await memory_entries.ids(session, memory.backbone, memory.capacity)
        held = memory.keys()
        gone = held - set(wanted)
        memory.remove(gone)
        new = [i for i in wanted if i not in held]
        for start in range(0, len(new), memory_entries.LOAD_BATCH):
            rows = await memory_entries.load(
                session, new[start : start + memory_entries.LOAD_BATCH]
            )
            known = [r for r in rows if r.label in CLASSES]
            memory.add({r.id: (decode(r.vector), CLASSES.index(r.label)) for r in known})
            added += len(known)
    return added, len(gone)


async def load_memory(db_url: URL, classifier: Classifier) -> int:
    """Fill the classifier's memory from the table once (command-line use); the number of
    users' entries, 0 when the model has no memory or the table cannot be read (a fresh
    install without a database measures the shipped model alone)."""
    memory = classifier.memory
    if memory is None or sqlite_file_missing(db_url):
        return 0
    engine = create_engine(db_url)
    try:
        await sync(session_factory(engine), memory)
    except (SQLAlchemyError, OSError) as exc:
        log.info("memory: users' entries not loaded (%s)", type(exc).__name__)
    finally:
        await engine.dispose()
    return len(memory)


async def watch_memory(
    sessions: async_sessionmaker[AsyncSession], classifier: Classifier, interval: float
) -> None:
    """Run forever as a background task of the bot: load the table, then follow it every
    ``interval`` seconds (a reloaded model's memory is filled again from scratch)."""
    while True:
        memory = classifier.memory
        if memory is not None:
            try:
                added, removed = await sync(sessions, memory)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("memory: cannot read its table (%s)", type(exc).__name__)
            else:
                if added or removed:
                    log.info("memory: %d entries added, %d removed", added, removed)
        await asyncio.sleep(interval)
