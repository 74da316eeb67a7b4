"""Where answers live: the database for consenting users, RAM for the others."""

from __future__ import annotations

import asyncio
import logging
import secrets

from sqlalchemy.exc import SQLAlchemyError

from bot.services import Services
from db import predictions
from db.media import extension_of, sha256
from db.models import UserPrediction
from handlers.common import Context, Who, memory, services
from handlers.render import Answer
from ml import memory_sync, registry
from ml.classifier import Prediction

log = logging.getLogger(__name__)

MEMORY_ANSWERS = 20
"""Answers kept in RAM per user who did not consent (older buttons expire): 11 KiB for 20,
the most kept for each of ``bot.user_memory.MAX_USERS`` users."""
KEY = r"\d{1,18}|m[0-9a-f]{16}"
"""A key in callback data: a prediction's row id, or ``m`` and 64 random bits for an answer
kept in RAM."""


def _memory_key() -> str:
    """A key no other answer ever had: counters (``a1, a2…``) started again at every restart
    and on every replica, so an old button could rewrite another photo's answer."""
    return f"m{secrets.token_hex(8)}"


def _from_row(row: UserPrediction) -> Answer:
    chosen = (row.corrected_class or row.predicted_class) if row.confirmed_at else None
    return Answer(
        key=str(row.id),
        predicted=row.predicted_class,
        confidence=row.confidence,
        top3=tuple((item["label"], item["confidence"]) for item in row.top3),
        chosen=chosen,
    )


def _memory_answers(context: Context) -> dict[str, tuple[Answer, str | None]]:
    store: dict[str, tuple[Answer, str | None]] = memory(context).setdefault("answers", {})
    return store


def _store_photo(svc: Services, data: bytes) -> tuple[str, str | None]:
    """Save the photo; on a full or read-only disk keep going without it."""
    try:
        return svc.media.save(data, extension_of(data))
    except OSError as exc:
        log.error("could not store an uploaded photo: %s", exc.strerror or exc)
        return sha256(data), None


async def remember(
    context: Context,
    who: Who,
    prediction: Prediction,
    data: bytes,
    *,
    update_id: int,
    media_group: str | None,
) -> tuple[Answer, bool]:
    """Record the prediction; returns the answer and whether the photo was kept as asked."""
    top3 = tuple((lbl, round(conf, 4)) for lbl, conf in prediction.top)
    if not who.consented:
        store = _memory_answers(context)
        answer = Answer(_memory_key(), prediction.label, prediction.confidence, top3)
        store[answer.key] = (answer, media_group)
        for old in list(store)[:-MEMORY_ANSWERS]:
            del store[old]
        return answer, True
    svc = services(context)
    model_id = await _model_id(svc, prediction.model)
    digest, path = await asyncio.to_thread(_store_photo, svc, data)
    async with svc.sessions() as session:
        row = await predictions.record(
            session,
            predictions.NewPrediction(
                user_id=who.user_id,
                update_id=update_id,
                image_sha256=digest,
                image_path=path,
                label=prediction.label,
                confidence=prediction.confidence,
                top3=[{"label": lbl, "confidence": conf} for lbl, conf in top3],
                model_version=prediction.model,
                model_id=model_id,
                department_code=who.department_code,
                media_group=media_group,
            ),
        )
        await session.commit()
        return _from_row(row), path is not None


async def _model_id(svc: Services, version: str) -> int | None:
    """The ``models`` row of the version that answered (read once per version)."""
    if version not in svc.model_ids:
        async with svc.sessions() as session:
            found = await registry.model_id(session, version, svc.settings.shipped_model_dir)
            await session.commit()
        if found is None:
            return None
        svc.model_ids[version] = found
    return svc.model_ids[version]


async def load_group(context: Context, who: Who, key: str) -> tuple[list[Answer], bool] | None:
    """The answers shown in the same message as ``key`` and whether it is an album."""
    if key.startswith("m"):
        store = _memory_answers(context)
        if key not in store:
            return None
        group = store[key][1]
        if group is None:
            return [store[key][0]], False
        return [a for a, g in store.values() if g == group], True
    if who.consented:
        async with services(context).sessions() as session:
            row = await predictions.owned(session, int(key), who.user_id)
            if row is not None:
                rows = await predictions.group_of(session, row)
                return [_from_row(r) for r in rows], row.media_group is not None
    return None


async def choose(context: Context, who: Who, key: str, category: str) -> bool:
    """Record the user's confirmation or correction; False when the answer is gone."""
    if key.startswith("m"):
        store = _memory_answers(context)
        if key not in store:
            return False
        answer, group = store[key]
        store[key] = (
            Answer(answer.key, answer.predicted, answer.confidence, answer.top3, category),
            group,
        )
        return True
    if not who.consented:
        return False
    async with services(context).sessions() as session:
        row = await predictions.owned(session, int(key), who.user_id)
        if row is None:
            return False
        predictions.give_feedback(row, category)
        await session.commit()
    if memory_sync.learns_from(row.image_sha256, row.image_path):
        await _learn(services(context), row, who.user_id, category)
    return True


async def _learn(svc: Services, row: UserPrediction, user_id: int, label: str) -> None:
    """Put the confirmed photo into the classifier's memory (a failure only costs that)."""
    try:
        await memory_sync.learn(
            svc.sessions,
            svc.classifier,
            svc.inference,
            svc.settings.data_dir / str(row.image_path),
            prediction_id=row.id,
            user_id=user_id,
            label=label,
        )
    except SQLAlchemyError:
        log.exception("memory: the confirmed photo %d was not recorded", row.id)


def forget_memory(context: Context) -> None:
    """Drop everything kept in RAM about the user."""
    memory(context).clear()
