"""Objects searched by name: reading them for the matcher, the search figures of ``/stats``
(counted by :mod:`db.search_counts`).

The bot keeps a :class:`SearchIndex` (the :class:`~db.matcher.Matcher` over every name) and
rebuilds it at start and whenever the tables change (an operator's correction or a new
``dumpin db seed``), noticed through a cheap fingerprint query at most every ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import unescape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.matcher import Matcher, Result
from db.models import Item, ItemName, ItemSearch, SearchCount

SEARCHES = "searches"
UNMATCHED = "unmatched"
SOURCE = "ADEME, « Que faire de mes objets et déchets »"
SOURCE_URL = "https://quefairedemesobjets.ademe.fr/"
"""Where the objects and their advice come from (MIT licence, © ADEME; db/data/SOURCES.md)."""


@dataclass(frozen=True)
class ItemCard:
    """What a card shows about one object."""

    id: int
    name: str
    name_en: str | None
    category: str | None
    what: str
    good: str
    bad: str

    def title(self, language: str) -> str:
        """The name in ``language`` when there is one."""
        return self.name_en if language == "en" and self.name_en else self.name

    def advice(self) -> str:
        """What to do, as plain text (the stored text is Telegram HTML): the general advice,
        else the good-condition and worn-out variants."""
        parts = [self.what] if self.what else [p for p in (self.good, self.bad) if p]
        return "\n\n".join(plain_text(p) for p in parts)


_TAG = re.compile(r"<[^>]+>")


def plain_text(html: str) -> str:
    """Telegram HTML without its tags, entities decoded."""
    return unescape(_TAG.sub("", html))


def _card(row: Item) -> ItemCard:
    return ItemCard(
        row.id, row.name, row.name_en, row.category, row.what_fr, row.good_fr, row.bad_fr
    )


@dataclass(frozen=True)
class Catalogue:
    """Every object and its names, with the matcher built over them."""

    items: dict[int, ItemCard]
    matcher: Matcher
    fingerprint: tuple[Any, ...]

    def search(self, text: str, language: str) -> tuple[Result, list[ItemCard]]:
        """The matches of ``text`` and their objects, best first."""
        result = self.matcher.search(text, language)
        return result, [self.items[m.item_id] for m in result.matches]


async def fingerprint(session: AsyncSession) -> tuple[Any, ...]:
    """Changes whenever an object or a name is added, removed or edited (row counts, text
    lengths, latest ``updated_at``): two aggregate queries, no rows read."""
    items = (
        await session.execute(
            select(
                func.count(Item.id),
                func.max(Item.updated_at),
                func.sum(
                    func.length(Item.name)
                    + func.length(func.coalesce(Item.name_en, ""))
                    + func.length(func.coalesce(Item.category, ""))
                    + func.length(Item.what_fr)
                    + func.length(Item.good_fr)
                    + func.length(Item.bad_fr)
                ),
                func.sum(Item.id),
            )
        )
    ).one()
    names = (
        await session.execute(
            select(
                func.count(ItemName.id), func.sum(func.length(ItemName.name)), func.sum(ItemName.id)
            )
        )
    ).one()
    return tuple(str(value) for value in (*items, *names))


async def load_catalogue(session: AsyncSession) -> Catalogue:
    """Read every object and name and build the matcher (under a second for ~1,300 objects)."""
    stamp = await fingerprint(session)
    rows = list(await session.scalars(select(Item)))
    names = (
        await session.execute(select(ItemName.item_id, ItemName.language, ItemName.name))
    ).all()
    items = {row.id: _card(row) for row in rows}
    triples = tuple(sorted((i, language, name) for i, language, name in names if i in items))
    titles = tuple(
        (card.id, (card.name, *((card.name_en,) if card.name_en else ())))
        for card in sorted(items.values(), key=lambda card: card.id)
    )
    matcher = await asyncio.to_thread(_matcher, triples, titles)
    return Catalogue(items, matcher, stamp)


@functools.lru_cache(maxsize=1)
def _matcher(
    names: tuple[tuple[int, str, str], ...], titles: tuple[tuple[int, tuple[str, ...]], ...]
) -> Matcher:
    """The matcher over these rows; the same rows (a fingerprint change that left the names
    alone, another bot of the same process) reuse the last one instead of a rebuild."""
    common = [item_id for item_id, own in titles if len(own) > 1]
    return Matcher.build(names, common, dict(titles))


class SearchIndex:
    """The catalogue kept in memory; a fingerprint query every ``ttl`` seconds tells whether
    the tables changed, and only then is everything read again and the index rebuilt."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._catalogue: Catalogue | None = None
        self._checked = 0.0
        self._reading = asyncio.Lock()

    def _due(self) -> bool:
        return self._catalogue is None or self.clock() - self._checked > self.ttl

    async def get(self, session: Callable[[], AsyncSession]) -> Catalogue:
        """The current catalogue (checked for changes at most every ``ttl`` seconds)."""
        if self._due():
            async with self._reading:
                if self._due():
                    async with session() as fresh:
                        stamp = await fingerprint(fresh)
                        if self._catalogue is None or stamp != self._catalogue.fingerprint:
                            self._catalogue = await load_catalogue(fresh)
                    self._checked = self.clock()
        assert self._catalogue is not None
        return self._catalogue


async def item_card(session: AsyncSession, item_id: int) -> ItemCard | None:
    """One object, read now (a button pressed after a restart or an edit)."""
    row = await session.get(Item, item_id)
    return _card(row) if row is not None else None


@dataclass(frozen=True)
class SearchFigures:
    """Search counters for ``/stats``."""

    searches: int
    unmatched: int
    top: Sequence[tuple[str, int]]
    """The most shown objects (name, count), most first."""

    @property
    def unmatched_share(self) -> float | None:
        """Share of searches that found nothing."""
        return self.unmatched / self.searches if self.searches else None


async def search_figures(session: AsyncSession, top: int = 5) -> SearchFigures:
    """The counters and the ``top`` most shown objects."""
    counts = dict((await session.execute(select(SearchCount.name, SearchCount.value))).all())
    shown = (
        await session.execute(
            select(Item.name, ItemSearch.count)
            .join(Item, Item.id == ItemSearch.item_id)
            .order_by(ItemSearch.count.desc(), Item.name)
            .limit(top)
        )
    ).all()
    return SearchFigures(
        int(counts.get(SEARCHES, 0)),
        int(counts.get(UNMATCHED, 0)),
        [(name, int(count)) for name, count in shown],
    )
