"""``db seed`` loads every département, région and rule, and a second run changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.categories import CLASSES
from db.models import NATIONAL, Department, Nomenclature, Region
from db.seed import seed
from tests.db.factories import edit_national_container


async def test_seed_counts(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Department)) == 101
        assert await session.scalar(select(func.count()).select_from(Region)) == 18
        national = await session.scalars(
            select(Nomenclature.waste_category).where(Nomenclature.department_code == NATIONAL)
        )
        assert sorted(national) == sorted(CLASSES)
        overrides = set(
            await session.scalars(
                select(Nomenclature.department_code).where(Nomenclature.department_code != NATIONAL)
            )
        )
        assert {"75", "33", "44", "2A", "2B", "971", "972", "973", "974", "976"} <= overrides
        corse = await session.get(Department, "2A")
        assert corse is not None and corse.name == "Corse-du-Sud"
        assert (await session.get(Department, "22")).name == "Côtes-d'Armor"  # type: ignore[union-attr]


async def test_seed_twice_changes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        reports = await seed(session)
        await session.commit()
    assert all(r.inserted == 0 and r.updated == 0 for r in reports), reports
    assert sum(r.unchanged for r in reports) > 101 + 18 + 13


async def test_seed_repairs_an_edited_rule(sessions: async_sessionmaker[AsyncSession]) -> None:
    await edit_national_container(sessions, "verre", "edited")
    async with sessions() as session:
        reports = {r.table: r for r in await seed(session)}
        await session.commit()
    assert reports["nomenclatures"].updated == 1
    assert reports["nomenclatures"].inserted == 0
