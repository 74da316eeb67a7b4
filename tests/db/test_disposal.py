"""Container lookup: the département's own rule when it has one, else the national default."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.categories import CLASSES
from db.disposal import CachedRulebook, disposal_for
from tests.db.factories import edit_national_container


async def test_national_default(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        rule = await disposal_for(session, "verre", None, "fr")
        assert rule is not None and not rule.local
        assert "verre" in rule.container.lower()
        for category in CLASSES:
            for language in ("fr", "en"):
                found = await disposal_for(session, category, "01", language)
                assert found is not None and found.container and found.instruction


async def test_override_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        paris = await disposal_for(session, "autre", "75", "fr")
        national = await disposal_for(session, "autre", None, "fr")
        assert paris is not None and national is not None
        assert paris.local and not national.local
        assert "vert" in paris.container.lower()
        assert paris.container != national.container


async def test_languages_differ(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        fr = await disposal_for(session, "plastique", "33", "fr")
        en = await disposal_for(session, "plastique", "33", "en")
        assert fr is not None and en is not None
        assert fr.instruction != en.instruction


async def test_unknown_category(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert await disposal_for(session, "licorne", "33", "fr") is None


async def test_cached_rulebook_rereads_after_ttl(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = [0.0]
    cache = CachedRulebook(ttl=60, clock=lambda: now[0])
    first = await cache.get(sessions)
    assert first.disposal("verre", "75", "fr") is not None
    await edit_national_container(sessions, "bois", "Nouvelle benne")
    now[0] = 30
    assert await cache.get(sessions) is first
    now[0] = 61
    fresh = await cache.get(sessions)
    assert fresh.disposal("bois", "33", "fr").container == "Nouvelle benne"  # type: ignore[union-attr]


async def test_cached_rulebook_read_once_by_concurrent_answers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    opened = []

    def counting() -> AsyncSession:
        opened.append(1)
        return sessions()

    cache = CachedRulebook(ttl=60)
    books = await asyncio.gather(*(cache.get(counting) for _ in range(8)))
    assert len(opened) == 1 and all(book is books[0] for book in books)
