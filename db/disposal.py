"""Where a class of waste goes in a département: the override, else the national rule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import NATIONAL, Nomenclature


@dataclass(frozen=True)
class Disposal:
    """The container and instruction for one class, in one language."""

    category: str
    container: str
    instruction: str
    local: bool
    """True when the rule is the département's own, False for the national default."""


@dataclass(frozen=True)
class Rulebook:
    """Every sorting rule (a few dozen rows of reference data), keyed by département and class."""

    rules: dict[tuple[str, str], Nomenclature]

    def disposal(
        self, category: str, department_code: str | None, language: str
    ) -> Disposal | None:
        """The rule for ``category`` in ``department_code`` (national default when absent)."""
        rule = self.rules.get((department_code or NATIONAL, category)) or self.rules.get(
            (NATIONAL, category)
        )
        if rule is None:
            return None
        english = language == "en"
        return Disposal(
            category=category,
            container=rule.waste_container_en if english else rule.waste_container,
            instruction=rule.instruction_en if english else rule.instruction_fr,
            local=rule.department_code != NATIONAL,
        )


async def load_rulebook(session: AsyncSession) -> Rulebook:
    """Read every sorting rule."""
    rows = await session.scalars(select(Nomenclature))
    return Rulebook({(row.department_code, row.waste_category): row for row in rows})


async def disposal_for(
    session: AsyncSession, category: str, department_code: str | None, language: str
) -> Disposal | None:
    """The rule for ``category`` in ``department_code``, read from the database now."""
    return (await load_rulebook(session)).disposal(category, department_code, language)


class CachedRulebook:
    """The rulebook kept in memory and re-read when older than ``ttl`` seconds, so a
    ``dumpin db seed`` reaches running bots without a database query per answer."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._book: Rulebook | None = None
        self._loaded = 0.0
        self._reading = asyncio.Lock()

    def _stale(self) -> bool:
        return self._book is None or self.clock() - self._loaded > self.ttl

    async def get(self, session: Callable[[], AsyncSession]) -> Rulebook:
        """The rulebook, read through a new session from ``session`` when stale (once, however
        many answers ask for it meanwhile)."""
        if self._stale():
            async with self._reading:
                if self._stale():
                    async with session() as fresh:
                        self._book = await load_rulebook(fresh)
                    self._loaded = self.clock()
        assert self._book is not None
        return self._book
