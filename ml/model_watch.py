"""Hot reload for the bot: poll the ``models`` table and swap in a newly active model."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ml.registry import active_model

log = logging.getLogger(__name__)


class Reloadable(Protocol):
    """What the watcher needs of ``ml.classifier.Classifier``."""

    @property
    def version(self) -> str: ...

    def reload(self, model_dir: Path) -> None: ...


async def watch_active_model(
    sessions: async_sessionmaker[AsyncSession], classifier: Reloadable, interval: float = 30.0
) -> None:
    """Run forever as a background task of the bot: every ``interval`` seconds, load the model
    the ``models`` table marks active if it is not the one serving. Calls in flight finish on
    the old model. A model that fails to load, or whose files hold another version than its
    row (e.g. a row pointing into an installed package that an upgrade replaced), is logged
    once and skipped until another one becomes active; database errors are logged and
    retried."""
    failed: str | None = None
    while True:
        try:
            async with sessions() as session:
                row = await active_model(session)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("model watch: cannot read the models table (%s)", type(exc).__name__)
            row = None
        if row is not None and row.version not in {classifier.version, failed}:
            try:
                await asyncio.to_thread(classifier.reload, Path(row.path))
            except Exception:
                failed = row.version
                log.exception(
                    "cannot load the active model %s; keeping %s", row.version, classifier.version
                )
            else:
                if classifier.version != row.version:
                    failed = row.version
                    log.warning(
                        "the files of the active model %s (%s) hold model %s: serving it; "
                        "activate a model to choose another",
                        row.version,
                        row.path,
                        classifier.version,
                    )
                else:
                    log.info("model %s is now serving", row.version)
        await asyncio.sleep(interval)
