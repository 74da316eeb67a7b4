"""The users' rule of the promotion gate on exact figures: right answers decide, and a tie is
broken only by a log loss lower by the stated margin."""

from __future__ import annotations

import numpy as np

from db.categories import CLASSES
from ml.gate import LOG_LOSS_MARGIN, MIN_USER_PHOTOS, USERS_RULE, Compared, judge
from ml.metrics import MIN_PROBABILITY, Metrics, compute_metrics, log_loss

N = MIN_USER_PHOTOS
TRAINED = np.ones(len(CLASSES), bool)


def _metrics(y: np.ndarray, right: int, p_true: float) -> Metrics:
    """Metrics of a model answering the first ``right`` photos right with probability
    ``p_true`` on the true class (the rest of the mass on the next class)."""
    proba = np.zeros((len(y), len(CLASSES)))
    wrong = (y + 1) % len(CLASSES)
    proba[np.arange(len(y)), y] = p_true
    proba[np.arange(len(y)), wrong] = 1 - p_true
    proba[right:, y[right:]] = 0.1
    proba[np.arange(right, len(y)), wrong[right:]] = 0.9
    return compute_metrics(y, proba.argmax(1), len(CLASSES), proba)


def _compared(y: np.ndarray, new: tuple[int, float], old: tuple[int, float]) -> Compared:
    """Candidate ``new`` and active ``old`` (right answers, probability of the true class)."""
    return Compared(_metrics(y, *new), _metrics(y, *old))


USERS_Y = np.arange(N) % 4


def _reasons(base: Compared, users: Compared) -> list[str]:
    verdict = judge(base, users, users, TRAINED, TRAINED)
    assert verdict.rule == USERS_RULE
    return [r.text() for r in verdict.reasons]


def _verdict(new: tuple[int, float], old: tuple[int, float]) -> list[str]:
    base_y = np.arange(40) % len(CLASSES)
    return _reasons(_compared(base_y, (40, 0.9), (40, 0.9)), _compared(USERS_Y, new, old))


def test_log_loss_is_the_mean_surprise_of_the_true_class() -> None:
    proba = np.array([[0.5, 0.5], [0.0, 1.0]])
    assert np.isclose(log_loss(np.array([0, 0]), proba), (np.log(2) - np.log(MIN_PROBABILITY)) / 2)
    assert log_loss(np.array([], int), np.zeros((0, 2))) == 0.0


def test_more_users_photos_right_is_promoted() -> None:
    assert _verdict((N - 2, 0.6), (N - 3, 0.9)) == []


def test_a_tie_with_a_clearly_lower_log_loss_is_promoted() -> None:
    assert _verdict((N - 3, 0.8), (N - 3, 0.7)) == []


def test_a_tie_within_the_margin_is_refused_and_said() -> None:
    p_old = 0.7
    p_new = p_old * np.exp(LOG_LOSS_MARGIN / 2)  # half the margin better on each right photo
    reasons = _verdict((N - 3, p_new), (N - 3, p_old))
    assert len(reasons) == 1
    assert reasons[0].startswith(
        f"not better on users' photos: {N - 3}/{N} right like the active model, log loss"
    )


def test_fewer_right_is_refused_whatever_the_log_loss() -> None:
    reasons = _verdict((N - 4, 0.99), (N - 3, 0.6))
    assert reasons == [f"not better on users' photos: {N - 4}/{N} right, active {N - 3}/{N}"]


def _base_drop(photos: int, lost: int) -> list[str]:
    """The verdict when the candidate misses ``lost`` of ``photos`` base photos of one class
    that the active model all answered right (users' photos: one more right)."""
    base = _compared(np.zeros(photos, int), (photos - lost, 0.9), (photos, 0.9))
    return _reasons(base, _compared(USERS_Y, (N - 2, 0.8), (N - 3, 0.8)))


def test_one_photo_of_a_small_class_does_not_refuse() -> None:
    assert not [r for r in _base_drop(2, 1) if r.startswith("recall of")]


def test_a_class_losing_two_photos_and_its_share_refuses() -> None:
    assert [r for r in _base_drop(6, 2) if r.startswith("recall of")] == [
        "recall of bois 66.7 % < active 100.0 % - 15 points"
    ]
