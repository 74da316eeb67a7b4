"""Engines: a failing statement's error (logged, sent to the admins) carries no parameters."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import UserPrediction

USER_ID = 918_273_645
DIGEST = "5ec1e7" * 10 + "abcd"


async def test_errors_hide_statement_parameters(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        session.add(  # no such user: the foreign key fails
            UserPrediction(
                user_id=USER_ID,
                image_sha256=DIGEST,
                predicted_class="verre",
                confidence=0.5,
                model_version="v",
            )
        )
        with pytest.raises(IntegrityError) as caught:
            await session.commit()
    message = str(caught.value)
    assert "INSERT INTO users_predictions" in message  # the statement stays, for the admins
    assert str(USER_ID) not in message and DIGEST not in message
    assert "parameters hidden" in message
