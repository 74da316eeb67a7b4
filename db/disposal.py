"""Where a class of waste goes in a département: the override, else the national rule."""

from __future__ import annotations

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


async def disposal_for(
    session: AsyncSession, category: str, department_code: str | None, language: str
) -> Disposal | None:
    """The rule for ``category`` in ``department_code`` (national default when absent)."""
    codes = [NATIONAL] if department_code is None else [department_code, NATIONAL]
    rows = (
        await session.scalars(
            select(Nomenclature).where(
                Nomenclature.waste_category == category, Nomenclature.department_code.in_(codes)
            )
        )
    ).all()
    if not rows:
        return None
    rule = min(rows, key=lambda row: row.department_code == NATIONAL)
    english = language == "en"
    return Disposal(
        category=category,
        container=rule.waste_container_en if english else rule.waste_container,
        instruction=rule.instruction_en if english else rule.instruction_fr,
        local=rule.department_code != NATIONAL,
    )
