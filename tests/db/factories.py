"""Builders for rows the database tests need."""

from __future__ import annotations

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
