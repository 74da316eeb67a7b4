"""Items in the database (SQLite and MariaDB): seeded once, operators' rows kept, the search
index rebuilt only when the tables change."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import items
from db.models import Item, ItemName
from db.reference import items as shipped
from db.seed import seed

Sessions = async_sessionmaker[AsyncSession]


async def _count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_seed_loads_every_object_and_name(sessions: Sessions) -> None:
    records = shipped()
    assert await _count(sessions, Item) == len(records)
    names = sum(len(r["names"]) + len(r["names_en"]) for r in records)
    assert await _count(sessions, ItemName) == names
    async with sessions() as session:
        canette = await session.scalar(select(Item).where(Item.key == "canette"))
        assert canette is not None and canette.category == "metal" and canette.source == "ademe"


async def test_seed_keeps_operator_rows_and_repairs_shipped_ones(sessions: Sessions) -> None:
    async with sessions() as session:
        await session.execute(
            update(Item).where(Item.key == "canette").values(what_fr="changed by hand")
        )
        await session.execute(
            update(Item).where(Item.key == "frigo").values(category="autre", source="local")
        )
        local = Item(
            key="gourde-inox",
            name="Gourde inox",
            category="metal",
            what_fr="Bac.",
            good_fr="",
            bad_fr="",
            source="local",
        )
        session.add(local)
        await session.flush()
        session.add(ItemName(item_id=local.id, language="fr", name="Gourde inox"))
        stale = await session.scalar(select(Item.id).where(Item.key == "canette"))
        session.add(ItemName(item_id=stale, language="fr", name="Nom en trop"))
        await session.commit()
    async with sessions() as session:
        reports = {r.table: r for r in await seed(session)}
        await session.commit()
    assert (reports["items"].inserted, reports["items"].updated) == (0, 1)
    assert (reports["item_names"].inserted, reports["item_names"].updated) == (0, 1)
    async with sessions() as session:
        rows = {r.key: r for r in await session.scalars(select(Item))}
        assert rows["canette"].what_fr != "changed by hand"
        assert rows["frigo"].category == "autre"  # the operator's correction stays
        assert rows["gourde-inox"].name == "Gourde inox"
        again = await seed(session)
    assert all(r.inserted == 0 and r.updated == 0 for r in again)


async def test_index_built_once_and_again_when_the_tables_change(sessions: Sessions) -> None:
    clock = [0.0]
    index = items.SearchIndex(ttl=60, clock=lambda: clock[0])
    first = await index.get(sessions)
    _, found = first.search("canette", "fr")
    assert found[0].name == "Canette"
    clock[0] = 120
    assert await index.get(sessions) is first  # checked, unchanged: not rebuilt
    async with sessions() as session:
        item_id = await session.scalar(select(Item.id).where(Item.key == "canette"))
        session.add(ItemName(item_id=item_id, language="fr", name="Cannette de soda"))
        await session.commit()
    assert await index.get(sessions) is first  # not yet due
    clock[0] = 240
    fresh = await index.get(sessions)
    assert fresh is not first
    assert fresh.search("cannette de soda", "fr")[0].matches[0].name == "Cannette de soda"


async def test_card_by_id_and_plain_advice(sessions: Sessions) -> None:
    async with sessions() as session:
        item_id = await session.scalar(select(Item.id).where(Item.key == "pile-jetable"))
        assert item_id is not None
        card = await items.item_card(session, item_id)
        assert await items.item_card(session, 10**8) is None
    assert card is not None and card.category is None
    assert card.title("en") == "battery" and card.title("fr") == "Pile jetable"
    assert "<" not in card.advice() and "point de collecte" in card.advice()
