"""The head's temperature is the lowest at which its « sûr » answers are right often enough."""

from __future__ import annotations

import numpy as np

from ml.head import Head
from ml.head_calibration import HEAD_TEMPERATURES, SURE_RIGHT, choose_temperature
from ml.levers import SURE


def _head(scale: float) -> Head:
    """Two-class head whose logits are ``scale * x`` (x is a [N, 1] embedding)."""
    return Head(
        W=np.array([[scale, -scale]], np.float32),
        b=np.zeros(2, np.float32),
        mean=np.zeros(1, np.float32),
        scale=np.ones(1, np.float32),
        trained=np.ones(2, bool),
    )


def _subset(right: int, wrong: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """``right`` photos of class 0 and ``wrong`` of class 1, all at embedding ``margin`` (so
    all answered class 0 with the same confidence)."""
    x = np.full((right + wrong, 1), margin, np.float32)
    return x, np.array([0] * right + [1] * wrong)


def test_over_confident_wrong_answers_raise_the_temperature() -> None:
    # logit gap 2 * 1.1 = 2.2: confidence 0.90 at T 1 and 1.1, 0.85 at 1.25, below at 1.5
    head = _head(1.1)
    subsets = {"a": _subset(90, 10, 1.0), "b": _subset(50, 0, 1.0)}
    temperature, rows = choose_temperature(head, subsets)
    assert [r["temperature"] for r in rows] == list(HEAD_TEMPERATURES)
    assert rows[0]["a"] == {"sure": 100, "right": 90}  # 90 % right < SURE_RIGHT
    assert temperature == 1.5
    assert head.tempered(temperature).predict_proba(subsets["a"][0]).max() < SURE


def test_honest_confidence_keeps_the_head_as_fitted() -> None:
    subsets = {"a": _subset(99, 1, 1.0)}
    assert SURE_RIGHT <= 99 / 100  # 99 right « sûr » answers in 100 are honest enough
    assert choose_temperature(_head(3.0), subsets)[0] == 1.0


def test_no_temperature_low_enough_takes_the_highest() -> None:
    subsets = {"a": _subset(50, 50, 10.0)}  # sure at every temperature, half wrong
    assert choose_temperature(_head(3.0), subsets)[0] == max(HEAD_TEMPERATURES)
