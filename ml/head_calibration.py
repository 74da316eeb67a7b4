"""The head's temperature: how confident its probabilities are allowed to be.

A head fitted on embeddings of photos its backbone was fine-tuned on is over-confident on new
photos; the bot calls an answer « sûr » from :data:`ml.levers.SURE`, so the temperature is
chosen for those answers to be right as often as the bot claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ml.head import Head
from ml.levers import SURE

HEAD_TEMPERATURES = (1.0, 1.1, 1.25, 1.5, 2.0)
SURE_RIGHT = 0.98
"""Share of « sûr » answers that must be right on each selection subset."""


def choose_temperature(
    head: Head, subsets: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[float, list[dict[str, Any]]]:
    """The lowest of :data:`HEAD_TEMPERATURES` at which ``head``'s « sûr » answers on every
    ``{name: (embeddings, labels)}`` subset are right at least :data:`SURE_RIGHT` of the time
    (the highest when none is); returns it and one row per temperature."""
    rows = []
    for temperature in HEAD_TEMPERATURES:
        row: dict[str, Any] = {"temperature": temperature}
        for name, (x, y) in subsets.items():
            proba = head.tempered(temperature).predict_proba(x)
            sure = proba.max(1) >= SURE
            right = int((sure & (proba.argmax(1) == y)).sum())
            row[name] = {"sure": int(sure.sum()), "right": right}
        rows.append(row)
    ok = [
        r["temperature"]
        for r in rows
        if all(r[n]["right"] >= SURE_RIGHT * r[n]["sure"] for n in subsets)
    ]
    return (min(ok) if ok else max(HEAD_TEMPERATURES)), rows
