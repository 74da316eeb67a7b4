"""Builders for rows the database tests need."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import NATIONAL, Nomenclature
from db.predictions import NewPrediction


def new_prediction(
    user_id: int,
    update_id: int | None,
    digest: str,
    path: str | None = None,
    label: str = "verre",
    media_group: str | None = None,
) -> NewPrediction:
    """A prediction as the bot would record it."""
    return NewPrediction(
        user_id=user_id,
        update_id=update_id,
        image_sha256=digest,
        image_path=path,
        label=label,
        confidence=0.9,
        top3=[{"label": label, "confidence": 0.9}],
        model_version="test",
        model_id=None,
        department_code="33",
        media_group=media_group,
    )


async def edit_national_container(
    sessions: async_sessionmaker[AsyncSession], category: str, container: str
) -> None:
    """Change the national rule's container of ``category`` behind the seed's back."""
    async with sessions() as session:
        rule = await session.scalar(
            select(Nomenclature).where(
                Nomenclature.department_code == NATIONAL, Nomenclature.waste_category == category
            )
        )
        assert rule is not None
        rule.waste_container = container
        await session.commit()
