"""``dumpin purge``: nothing kept longer than the privacy notice says.

Photos nobody confirmed or corrected lose their file after ``DUMPIN_UNCONFIRMED_PHOTO_DAYS``
(the answer stays in the user's history); users who have not used the bot for
``DUMPIN_INACTIVE_USER_DAYS`` are erased as with /oublier (and recorded, so that a restore
does not bring them back); erasure records go once no backup can hold their user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import erasures, users
from db.erasures import ErasureLog
from db.models import User, UserPrediction
from scheduler.backup import list_backups

BATCH = 500
"""Rows changed per statement."""
STRAY_MIN_AGE = 24 * 3600.0
"""Seconds an upload no row refers to must be old before it is deleted: the bot saves a
photo just before it records its row."""


@dataclass(frozen=True)
class PurgeReport:
    """What one purge removed."""

    users: int = 0
    photos: int = 0
    files: int = 0
    erasures: int = 0
    reencoded: int = 0
    """Images stored by earlier versions with their metadata, re-encoded (first purge only)."""


def erasure_horizon(backups: Path, keep: int, now: datetime) -> datetime:
    """Erasures before this no backup holds: older than the oldest backup, and than the
    ``keep`` weekly backups plus a week (copies kept elsewhere follow the same retention)."""
    horizon = now - timedelta(weeks=keep + 1)
    found = list_backups(backups)
    if found:
        oldest = datetime.fromtimestamp(found[0].stat().st_mtime, UTC).replace(tzinfo=None)
        horizon = min(horizon, oldest)
    return horizon


async def purge(
    session: AsyncSession,
    log: ErasureLog,
    now: datetime,
    photo_days: int,
    inactive_days: int,
    erasures_before: datetime,
) -> tuple[PurgeReport, list[str]]:
    """Apply the retention periods (the caller commits, then deletes the returned files)."""
    paths: set[str] = set()
    inactive = list(
        await session.scalars(
            select(User.id).where(User.last_seen_at < now - timedelta(days=inactive_days))
        )
    )
    for user_id in inactive:
        paths.update(await users.forget(session, user_id))
    await erasures.record(session, log, inactive)
    stale = (
        await session.execute(
            select(UserPrediction.id, UserPrediction.image_path).where(
                UserPrediction.confirmed_at.is_(None),
                UserPrediction.image_path.is_not(None),
                UserPrediction.created_at < now - timedelta(days=photo_days),
            )
        )
    ).all()
    for start in range(0, len(stale), BATCH):
        ids = [row.id for row in stale[start : start + BATCH]]
        await session.execute(
            update(UserPrediction).where(UserPrediction.id.in_(ids)).values(image_path=None)
        )
    dropped = {str(row.image_path) for row in stale}
    still_used = set(
        await session.scalars(
            select(UserPrediction.image_path).where(UserPrediction.image_path.in_(dropped))
        )
    )
    paths.update(dropped - still_used)
    expired = await erasures.expire(session, log, erasures_before)
    report = PurgeReport(len(inactive), len(stale), len(paths), expired)
    return report, sorted(paths)
