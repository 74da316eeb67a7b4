"""Long-lived services of the bot process, kept in ``application.bot_data``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ml.classifier import Classifier
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from db.media import MediaStore
from db.session import create_engine, session_factory

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "ml" / "models"


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
    def open(cls, settings: Settings, model_dir: Path = SHIPPED_MODEL) -> Services:
        """Connect (lazily) to the database and load the model once."""
        engine = create_engine(settings.db_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            classifier=Classifier.load(model_dir),
            media=MediaStore(settings.data_dir),
        )

    async def close(self) -> None:
        """Release database connections."""
        await self.engine.dispose()
