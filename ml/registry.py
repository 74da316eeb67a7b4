"""The ``models`` table: the active model (the shipped one until a retrain records it),
candidates, promotion and rollback. The caller commits; the callers that change which model
is active hold ``scheduler.lock.models_lock``."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import DumpinError
from db.models import HeldOutSample, Model, TrainingSample, utcnow
from ml.model_folder import model_files

ACTIVE, CANDIDATE, RETIRED = "active", "candidate", "retired"


def read_card(model_dir: Path) -> dict[str, Any]:
    """The ``model.json`` of a model directory."""
    try:
        card: dict[str, Any] = json.loads((model_dir / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise DumpinError(f"no readable model.json in {model_dir}: {exc}") from None
    return card


async def active_model(session: AsyncSession) -> Model | None:
    """The row marked active (the newest one if several)."""
    return await session.scalar(
        select(Model).where(Model.status == ACTIVE).order_by(Model.id.desc()).limit(1)
    )


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` at ``target`` (a copy across file systems)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def copy_model(source: Path, models_root: Path, version: str) -> Path:
    """``<models root>/<version>/``: a copy of the model folder ``source`` (kept when already
    there; copied, not linked, so that no change to ``source`` reaches it), written under a
    temporary name of its own and renamed; safe when two processes or threads do it."""
    target = models_root / version
    if (target / "model.json").is_file():
        return target.resolve()
    models_root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".partial", dir=models_root))
    try:
        for name in model_files(source):  # the memory's exemplars and second model included
            (partial / name).parent.mkdir(exist_ok=True)
            shutil.copyfile(source / name, partial / name)
        os.replace(partial, target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not (target / "model.json").is_file():  # else another process copied it first
            raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target.resolve()


async def ensure_active(session: AsyncSession, shipped_dir: Path, models_root: Path) -> Model:
    """The active row; records the shipped model as active when the table has none, with a
    copy of its files in ``models_root`` (the files of an installed package change with the
    next upgrade; the recorded version must keep its own)."""
    row = await active_model(session)
    if row is not None:
        return row
    card = read_card(shipped_dir)
    version = str(card["version"])
    row = await session.scalar(select(Model).where(Model.version == version))
    if row is None:
        counts = card.get("dataset", {}).get("train_counts", {})
        path = await asyncio.to_thread(copy_model, shipped_dir, models_root, version)
        row = Model(version=version, path=str(path), dataset_size=sum(counts.values()), metrics={})
        session.add(row)
    row.status, row.activated_at = ACTIVE, utcnow()
    await session.flush()
    return row


async def model_id(
    session: AsyncSession, version: str, shipped_dir: Path, models_root: Path
) -> int | None:
    """The id of the row of ``version``. The shipped model, which serves before a retrain
    records it, is recorded on first use (:func:`ensure_active`); None for a version without
    a row. Call it first in its transaction: a row another process recorded at the same
    moment is read after a rollback."""
    query = select(Model.id).where(Model.version == version)
    found = await session.scalar(query)
    if found is None and version == str(read_card(shipped_dir)["version"]):
        try:
            await ensure_active(session, shipped_dir, models_root)
        except IntegrityError:
            await session.rollback()
        found = await session.scalar(query)
    return found


async def promote(session: AsyncSession, model_id: int) -> Model:
    """Make ``model_id`` the only active model (also the rollback of ``dumpin models activate``)."""
    row = await session.get(Model, model_id)
    if row is None:
        raise DumpinError(f"no model with id {model_id}")
    read_card(Path(row.path))  # refuse a model whose files are gone
    await session.execute(
        update(Model).where(Model.status == ACTIVE, Model.id != model_id).values(status=RETIRED)
    )
    row.status, row.activated_at = ACTIVE, utcnow()
    await session.flush()
    return row


async def swap_active(session: AsyncSession, expected_id: int, model_id: int) -> bool:
    """Compare-and-swap: make ``model_id`` active only if ``expected_id`` still is (False, and
    nothing changed, when another model became active meanwhile)."""
    retired = await session.execute(
        update(Model).where(Model.id == expected_id, Model.status == ACTIVE).values(status=RETIRED)
    )
    if retired.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await promote(session, model_id)
    return True


async def list_models(session: AsyncSession) -> list[Model]:
    """Every recorded model, newest first."""
    return list(await session.scalars(select(Model).order_by(Model.id.desc())))


async def new_samples(session: AsyncSession) -> int:
    """Harvested samples added since the newest model row (of any status) was created."""
    since = await session.scalar(select(func.max(Model.created_at)))
    total = 0
    for sample in (TrainingSample, HeldOutSample):
        query = select(func.count()).select_from(sample).where(sample.source == "user")
        if since is not None:
            query = query.where(sample.added_at > since)
        total += int(await session.scalar(query) or 0)
    return total
