"""Long-lived services of the bot process, kept in ``application.bot_data``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from db.media import MediaStore
from db.session import create_engine, session_factory
from ml.classifier import Classifier


@dataclass
class Services:
    """Database, classifier and photo storage shared by every handler."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    classifier: Classifier
    media: MediaStore
    reported_errors: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        """Connect (lazily) to the database and load the shipped model (the model watcher
        switches to the active one at start)."""
        engine = create_engine(settings.db_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            classifier=Classifier.load(settings.shipped_model_dir),
            media=MediaStore(settings.data_dir),
        )

    async def close(self) -> None:
        """Release database connections."""
        await self.engine.dispose()
