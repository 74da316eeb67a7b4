"""Search counters for ``/stats`` (searches, searches without a match, cards shown per object),
added up in memory and written in one transaction every few seconds.

A transaction per text cost an answer three to four statements and a commit on the event loop
(BENCHMARKS.md, "Text answers"); the counters hold no user and no query text, so keeping a few
seconds of them in memory changes nothing a person could ask about. A crash loses at most those
seconds; a stop writes them (``close``); ``/stats`` writes them before reading (``flush``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from db.items import SEARCHES, UNMATCHED
from db.models import Item, ItemSearch, SearchCount

log = logging.getLogger(__name__)

DELAY = 5.0
"""Seconds between the first count of a batch and its write."""


@dataclass
class Counts:
    """Counts not yet written."""

    searches: int = 0
    unmatched: int = 0
    shown: Counter[int] = field(default_factory=Counter)
    """Cards shown, by object id."""

    def __bool__(self) -> bool:
        return bool(self.searches or self.shown)

    def merge(self, other: Counts) -> None:
        """Add ``other`` to these counts."""
        self.searches += other.searches
        self.unmatched += other.unmatched
        self.shown.update(other.shown)


def _add(dialect: str, model: Any, key: str, column: str, rows: list[dict[str, Any]]) -> Any:
    """``rows`` inserted, or added to the existing ``column`` of their ``key``."""
    table = model.__table__
    if dialect == "sqlite":
        lite = sqlite.insert(table).values(rows)
        return lite.on_conflict_do_update(
            index_elements=[key], set_={column: table.c[column] + lite.excluded[column]}
        )
    my = mysql.insert(table).values(rows)
    return my.on_duplicate_key_update({column: table.c[column] + my.inserted[column]})


async def write(session: AsyncSession, counts: Counts) -> None:
    """Add ``counts`` to the stored counters (the caller commits). Objects deleted meanwhile
    (an operator's correction) are skipped."""
    dialect = session.get_bind().dialect.name
    totals = {SEARCHES: counts.searches, UNMATCHED: counts.unmatched}
    rows = [{"name": name, "value": value} for name, value in totals.items() if value]
    if rows:
        await session.execute(_add(dialect, SearchCount, "name", "value", rows))
    if counts.shown:
        existing = await session.scalars(select(Item.id).where(Item.id.in_(counts.shown)))
        shown = [{"item_id": i, "count": counts.shown[i]} for i in sorted(existing)]
        if shown:
            await session.execute(_add(dialect, ItemSearch, "item_id", "count", shown))


class SearchTally:
    """The counts of the running bot, written at most ``delay`` seconds after they happen."""

    def __init__(self, sessions: Callable[[], AsyncSession], delay: float = DELAY) -> None:
        self.sessions = sessions
        self.delay = delay
        self.pending = Counts()
        self._writer: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    def add(self, *, matched: bool | None, shown: int | None) -> None:
        """Count a search (``matched``: whether it found anything; None for a button press,
        which is no new search) and the card shown, if any; schedule their write."""
        if matched is not None:
            self.pending.searches += 1
            self.pending.unmatched += not matched
        if shown is not None:
            self.pending.shown[shown] += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_soon(), name="search-counts"
            )

    async def _write_soon(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.delay)
        await self.flush()

    async def flush(self) -> None:
        """Write the pending counts now; they stay pending when the database is unreachable
        (the next write or ``close`` tries again)."""
        counts, self.pending = self.pending, Counts()
        if not counts:
            return
        try:
            async with self.sessions() as session:
                await write(session, counts)
                await session.commit()
        except SQLAlchemyError as exc:
            log.warning("search counters not written, kept for the next try: %s", exc)
            counts.merge(self.pending)
            self.pending = counts

    async def close(self) -> None:
        """Write what is pending now (the bot is stopping): the scheduled write runs at once,
        never cut in the middle of its transaction."""
        self._closing.set()
        if self._writer is not None:
            await self._writer
        await self.flush()
