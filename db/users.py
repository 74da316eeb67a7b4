"""Users: consent, language, département history, and forgetting everything about one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Label, SQLColumnExpression, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import memory_entries
from db.models import User, UserDepartment, UserPrediction, table, utcnow
from db.upsert import upsert


@dataclass(frozen=True)
class Profile:
    """What the bot knows of a consenting user."""

    user_id: int
    language: str | None
    department_code: str | None
    last_seen_at: datetime | None = field(default=None, compare=False)


async def get_profile(session: AsyncSession, user_id: int) -> Profile | None:
    """The stored profile of a consenting user, or None (no consent, nothing stored).

    One query, as it runs for every update: the user's row and their latest département.
    """
    found = await session.execute(_PROFILE, {"user_id": user_id})
    row = found.one_or_none()
    if row is None or row.consent_at is None:
        return None
    return Profile(user_id, row.language, row.department_code, row.last_seen_at)


async def give_consent(
    session: AsyncSession, user_id: int, language: str | None, department_code: str | None
) -> None:
    """Create or refresh the user with a consent timestamp, keeping choices made before."""
    now = utcnow()
    user = await session.get(User, user_id)
    if user is None:
        session.add(User(id=user_id, language=language, consent_at=now, last_seen_at=now))
        await session.flush()
    else:
        user.consent_at = now
        user.language = user.language or language
    if department_code and await current_department(session, user_id) is None:
        await choose_department(session, user_id, department_code)


SEEN_RESOLUTION = timedelta(minutes=10)
"""``last_seen_at`` is refreshed at most this often, to spare a write on every update."""


async def touch(session: AsyncSession, profile: Profile) -> bool:
    """Record that a consenting user was active now; True when a write is pending."""
    now = utcnow()
    if profile.last_seen_at is not None and now - profile.last_seen_at < SEEN_RESOLUTION:
        return False
    await session.execute(update(User).where(User.id == profile.user_id).values(last_seen_at=now))
    return True


async def admin_languages(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    """The language each of these users chose in the bot (those who chose one)."""
    rows = await session.execute(
        select(User.id, User.language).where(User.id.in_(list(ids)), User.language.is_not(None))
    )
    return {user_id: language for user_id, language in rows if language}


async def set_language(session: AsyncSession, user_id: int, language: str) -> None:
    """Save the user's language choice."""
    user = await session.get(User, user_id)
    if user is not None:
        user.language = language


async def choose_department(session: AsyncSession, user_id: int, department_code: str) -> None:
    """Make ``department_code`` the user's current département (history kept)."""
    await upsert(
        session,
        table(UserDepartment),
        [{"user_id": user_id, "department_code": department_code, "chosen_at": utcnow()}],
        ["user_id", "department_code"],
    )


def _latest_department(user_id: SQLColumnExpression[int] | int) -> Label[str | None]:
    """The user's latest département, as a (correlated) column named ``department_code``."""
    departments = table(UserDepartment)
    return (
        select(departments.c.department_code)
        .where(departments.c.user_id == user_id)
        .order_by(departments.c.chosen_at.desc())
        .limit(1)
        .scalar_subquery()
        .label("department_code")
    )


_USERS = table(User)
_PROFILE = select(
    _USERS.c.consent_at, _USERS.c.language, _USERS.c.last_seen_at, _latest_department(_USERS.c.id)
).where(_USERS.c.id == bindparam("user_id"))
"""The query of :func:`get_profile`, built once and on the tables (no ORM entity to load):
building it and its cache key for every update, then loading its rows through the ORM, cost
more event-loop time than running it (BENCHMARKS.md, "Text answers")."""


async def current_department(session: AsyncSession, user_id: int) -> str | None:
    """The département the user chose last."""
    return await session.scalar(select(_latest_department(user_id)))


async def forget(session: AsyncSession, user_id: int) -> list[str]:
    """Delete the user and their rows; return the stored image paths no one else references."""
    paths = set(
        await session.scalars(
            select(UserPrediction.image_path).where(
                UserPrediction.user_id == user_id, UserPrediction.image_path.is_not(None)
            )
        )
    )
    await memory_entries.delete_for_user(session, user_id)
    await session.execute(delete(UserPrediction).where(UserPrediction.user_id == user_id))
    await session.execute(delete(UserDepartment).where(UserDepartment.user_id == user_id))
    await session.execute(delete(User).where(User.id == user_id))
    still_used = set(
        await session.scalars(
            select(UserPrediction.image_path).where(UserPrediction.image_path.in_(paths))
        )
    )
    return sorted(str(p) for p in paths - still_used)


async def withdraw_consent(session: AsyncSession, user_id: int) -> None:
    """Stop storing new data about the user (what exists stays until they use /oublier)."""
    user = await session.get(User, user_id)
    if user is not None:
        user.consent_at = None
