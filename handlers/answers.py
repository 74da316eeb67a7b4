"""Where answers live: the database for consenting users, RAM for the others."""

from __future__ import annotations

import asyncio
import logging

from bot.services import Services
from db import predictions
from db.media import extension_of, sha256
from db.models import UserPrediction
from handlers.common import Context, Who, memory, services
from handlers.render import Answer
from ml.classifier import Prediction

log = logging.getLogger(__name__)

MEMORY_ANSWERS = 50
"""Answers kept in RAM per user who did not consent (older buttons expire)."""


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
        seq = memory(context).get("seq", 0) + 1
        memory(context)["seq"] = seq
        answer = Answer(f"a{seq}", prediction.label, prediction.confidence, top3)
        store[answer.key] = (answer, media_group)
        for old in list(store)[:-MEMORY_ANSWERS]:
            del store[old]
        return answer, True
    svc = services(context)
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
                model_version=svc.classifier.version,
                model_id=None,
                department_code=who.department_code,
                media_group=media_group,
            ),
        )
        await session.commit()
        return _from_row(row), path is not None


async def load_group(context: Context, who: Who, key: str) -> tuple[list[Answer], bool] | None:
    """The answers shown in the same message as ``key`` and whether it is an album."""
    if key.startswith("a"):
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
    if key.startswith("a"):
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
    return True


def forget_memory(context: Context) -> None:
    """Drop everything kept in RAM about the user."""
    memory(context).clear()
