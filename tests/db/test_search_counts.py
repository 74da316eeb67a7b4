"""Search counters for /stats (SQLite and MariaDB): no query text, added up in memory, written
in one transaction a few seconds later, at a stop, and kept while the database is down."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import items
from db.models import Item, ItemSearch, SearchCount
from db.search_counts import Counts, SearchTally, write
from db.session import create_engine, session_factory

Sessions = async_sessionmaker[AsyncSession]


async def _ids(sessions: Sessions, *keys: str) -> list[int]:
    async with sessions() as session:
        found = dict((await session.execute(select(Item.key, Item.id))).all())
    return [found[key] for key in keys]


async def _stored(sessions: Sessions) -> tuple[dict[str, int], dict[int, int]]:
    async with sessions() as session:
        counts = dict((await session.execute(select(SearchCount.name, SearchCount.value))).all())
        shown = dict((await session.execute(select(ItemSearch.item_id, ItemSearch.count))).all())
    return counts, shown


async def test_counts_add_up_without_any_query_text(sessions: Sessions) -> None:
    canette, pile = await _ids(sessions, "canette", "pile-jetable")
    for counts in (
        Counts(3, 1, Counter({canette: 2})),
        Counts(2, 0, Counter({canette: 1, pile: 1})),
    ):
        async with sessions() as session:
            await write(session, counts)
            await session.commit()
    assert await _stored(sessions) == ({"searches": 5, "unmatched": 1}, {canette: 3, pile: 1})
    async with sessions() as session:
        figures = await items.search_figures(session)
    assert (figures.searches, figures.unmatched) == (5, 1)
    assert figures.top[0] == ("Canette", 3)
    assert figures.unmatched_share is not None and round(figures.unmatched_share, 3) == 0.2


async def test_objects_deleted_meanwhile_are_skipped(sessions: Sessions) -> None:
    (canette,) = await _ids(sessions, "canette")
    async with sessions() as session:
        await write(session, Counts(2, 0, Counter({canette: 1, 999_999_999: 1})))
        await session.commit()
    assert await _stored(sessions) == ({"searches": 2}, {canette: 1})


async def test_one_transaction_for_many_searches(sessions: Sessions) -> None:
    (canette,) = await _ids(sessions, "canette")
    engine = sessions.kw["bind"]
    commits: list[object] = []
    event.listen(engine.sync_engine, "commit", commits.append)
    tally = SearchTally(sessions, delay=0.05)
    for _ in range(100):
        tally.add(matched=True, shown=canette)
    tally.add(matched=False, shown=None)
    tally.add(matched=None, shown=canette)  # a button press: a card, no new search
    assert commits == [] and await _stored(sessions) == ({}, {})  # nothing written yet
    await asyncio.sleep(0.5)
    assert len(commits) == 1
    assert await _stored(sessions) == ({"searches": 101, "unmatched": 1}, {canette: 101})


async def test_a_stop_writes_what_is_pending(sessions: Sessions) -> None:
    (canette,) = await _ids(sessions, "canette")
    tally = SearchTally(sessions, delay=3600)
    tally.add(matched=True, shown=canette)
    await tally.close()
    assert await _stored(sessions) == ({"searches": 1}, {canette: 1})


async def test_counts_wait_for_the_database(
    sessions: Sessions, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (canette,) = await _ids(sessions, "canette")
    broken = create_engine(make_url(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.db'}"))
    tally = SearchTally(session_factory(broken), delay=3600)
    tally.add(matched=True, shown=canette)
    with caplog.at_level(logging.WARNING):
        await tally.flush()
    assert "search counters not written" in caplog.text
    tally.add(matched=False, shown=None)  # counted meanwhile
    tally.sessions = sessions  # the database is back
    await tally.close()
    await broken.dispose()
    assert await _stored(sessions) == ({"searches": 2, "unmatched": 1}, {canette: 1})
