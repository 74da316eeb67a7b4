"""Long-lived services of the bot process, kept in ``application.bot_data``."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from bot.updates import CONCURRENT_UPDATES
from db import geo, locate
from db.disposal import CachedRulebook
from db.erasures import ErasureLog
from db.items import SearchIndex
from db.media import MediaStore
from db.search_counts import SearchTally
from db.session import create_engine, session_factory
from ml.classifier import Classifier

INFERENCE_THREADS = min(4, os.cpu_count() or 1)
"""Decode + classify threads, each with its own interpreter: one per core is enough, more
only cost memory (asyncio's default pool had 6 on 2 cores)."""


def _inference_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(INFERENCE_THREADS, thread_name_prefix="inference")


@dataclass
class Services:
    """Database, classifier, photo storage and erasure record shared by every handler."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    classifier: Classifier
    media: MediaStore
    erasures: ErasureLog
    reported_errors: set[str] = field(default_factory=set)
    inference: ThreadPoolExecutor = field(default_factory=_inference_pool)
    rulebook: CachedRulebook = field(default_factory=CachedRulebook)
    search: SearchIndex = field(default_factory=SearchIndex)
    model_ids: dict[str, int] = field(default_factory=dict)
    """``models`` row id of each model version that answered, once looked up."""
    search_counts: SearchTally = field(init=False)
    """Search counters for ``/stats``, written every few seconds rather than per text."""

    def __post_init__(self) -> None:
        self.search_counts = SearchTally(self.sessions)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        """Connect (lazily) to the database and load the shipped model (the model watcher
        switches to the active one at start)."""
        engine = create_engine(settings.db_url, pool_size=CONCURRENT_UPDATES)
        geo.departments()  # load the communes index now, not on the first user's answer
        locate.load()  # and the département outlines, for shared locations
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            classifier=Classifier.load(settings.shipped_model_dir, settings.memory_max_entries),
            media=MediaStore(settings.data_dir),
            erasures=ErasureLog.open(settings.data_dir, settings.erasure_key),
        )

    async def close(self) -> None:
        """Write the pending search counters, release database connections and the inference
        threads."""
        await self.search_counts.close()
        self.inference.shutdown(wait=False, cancel_futures=True)
        await self.engine.dispose()
