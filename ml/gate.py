"""The promotion gate: a candidate model against the active one on the same photos of the fixed
test set, judged on its two parts separately, the base photos and the users' photos.

With at least :data:`MIN_USER_PHOTOS` users' test photos the candidate is promoted when it
is better on them and loses at most :data:`BASE_TOLERANCE` (one point) of accuracy on the base
photos. Better means more of them answered right or, as many right, a log loss (a proper
scoring rule: how much probability went to the true class) lower by at least
:data:`LOG_LOSS_MARGIN`, since a few dozen photos often split two good models on no answer at
all. With fewer, the users' photos cannot decide and the former rule judges the whole test set
(macro-F1 not lower, accuracy at most half a point lower). Under both rules no class may lose
more than :data:`MAX_RECALL_DROP` of recall, and a candidate that loses a class the active
model had is never promoted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from db.categories import CLASSES
from locales import N_
from ml.metrics import Metrics

MIN_USER_PHOTOS = 20
"""Users' test photos needed for them to decide (about 130 harvested photos: 15 % are test)."""
BASE_TOLERANCE = 0.01
"""Accuracy a candidate may lose on the base test photos when it is better on users' photos."""
LOG_LOSS_MARGIN = 0.01
"""How much lower the candidate's log loss on users' test photos must be to break a tie on
right answers (nats per photo: about 1 % more probability on the true class)."""
MAX_RECALL_DROP = 0.15
"""Recall a class may lose (base photos, or the whole test set under the former rule); one
photo is never enough, whatever share of a small class it is."""
WHOLE_ACCURACY_DROP = 0.005
"""The former rule's accuracy tolerance on the whole test set."""
USERS_RULE, FEW_USERS_RULE = "users", "few-users"


@dataclass(frozen=True)
class Compared:
    """The candidate's and the active model's metrics on the same photos."""

    candidate: Metrics
    active: Metrics

    @property
    def n(self) -> int:
        """How many photos."""
        return self.candidate.n


@dataclass(frozen=True)
class Reason:
    """Why a candidate is refused: an English template (translated where it is shown) and
    its values."""

    template: str
    values: dict[str, str | int]

    def text(self, gettext: Callable[[str], str] = str) -> str:
        """The reason in the language of ``gettext`` (English by default)."""
        return gettext(self.template) % self.values


@dataclass(frozen=True)
class Verdict:
    """Whether to promote, under which rule, and why not (empty ``reasons``: promote)."""

    rule: str
    reasons: list[Reason]

    @property
    def promote(self) -> bool:
        """True when nothing stands in the way."""
        return not self.reasons


def right(m: Metrics) -> int:
    """Photos answered right."""
    return int(np.trace(np.asarray(m.confusion))) if m.n else 0


def pct(value: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{100 * value:.1f} %"


def lost_classes(whole: Compared, candidate: np.ndarray, active: np.ndarray) -> list[Reason]:
    """Why the candidate loses a class the active model had: it can no longer predict it, or
    it recognises none of the class's test photos where the active model recognised some."""
    reasons = []
    for i, name in enumerate(CLASSES):
        if active[i] and not candidate[i]:
            reasons.append(
                Reason(
                    N_("loses %(name)s: the active model predicts it, this one cannot"),
                    {"name": name},
                )
            )
        elif (
            active[i]
            and whole.candidate.support[i] > 0
            and whole.active.recall[i] > 0
            and whole.candidate.recall[i] == 0
        ):
            reasons.append(
                Reason(
                    N_(
                        "loses %(name)s: none of its %(n)d test photos recognised (active: %(old)s)"
                    ),
                    {
                        "name": name,
                        "n": whole.candidate.support[i],
                        "old": pct(whole.active.recall[i]),
                    },
                )
            )
    return reasons


def recall_drops(part: Compared, both: np.ndarray) -> list[Reason]:
    """Classes trained by both models whose recall on ``part`` drops by more than
    :data:`MAX_RECALL_DROP` and by more than one photo."""
    new, old = part.candidate, part.active
    return [
        Reason(
            N_("recall of %(name)s %(new)s < active %(old)s - %(points)d points"),
            {
                "name": name,
                "new": pct(new.recall[i]),
                "old": pct(old.recall[i]),
                "points": round(100 * MAX_RECALL_DROP),
            },
        )
        for i, name in enumerate(CLASSES)
        if both[i]
        and new.support[i] > 0
        and new.recall[i] < old.recall[i] - MAX_RECALL_DROP
        and old.confusion[i][i] - new.confusion[i][i] > 1
    ]


def surer(users: Compared) -> bool:
    """The candidate's log loss on ``users`` is lower than the active model's by at least
    :data:`LOG_LOSS_MARGIN` (False when either was not scored)."""
    new, old = users.candidate.log_loss, users.active.log_loss
    return new is not None and old is not None and new <= old - LOG_LOSS_MARGIN + 1e-9


def not_better_on_users(users: Compared) -> list[Reason]:
    """Why the candidate is not better on the users' test photos (empty: it is)."""
    new, old = right(users.candidate), right(users.active)
    values: dict[str, str | int] = {"new": new, "old": old, "n": users.n}
    if new > old or (new == old and surer(users)):
        return []
    if new < old or users.candidate.log_loss is None or users.active.log_loss is None:
        template = N_("not better on users' photos: %(new)d/%(n)d right, active %(old)d/%(n)d")
        return [Reason(template, values)]
    template = N_(
        "not better on users' photos: %(new)d/%(n)d right like the active model, log loss "
        "%(new_loss)s not below %(old_loss)s - %(margin)s"
    )
    values |= {
        "new_loss": f"{users.candidate.log_loss:.3f}",
        "old_loss": f"{users.active.log_loss:.3f}",
        "margin": f"{LOG_LOSS_MARGIN:.2f}",
    }
    return [Reason(template, values)]


def judge(
    base: Compared,
    users: Compared,
    whole: Compared,
    candidate_trained: np.ndarray,
    active_trained: np.ndarray,
) -> Verdict:
    """The verdict on a candidate (``*_trained``: the classes each head can predict)."""
    both = candidate_trained & active_trained
    reasons = lost_classes(whole, candidate_trained, active_trained)
    if users.n >= MIN_USER_PHOTOS:
        reasons += not_better_on_users(users)
        if base.candidate.accuracy < base.active.accuracy - BASE_TOLERANCE - 1e-9:
            reasons.append(
                Reason(
                    N_("worse on base photos: accuracy %(new)s < active %(old)s - 1 point"),
                    {"new": pct(base.candidate.accuracy), "old": pct(base.active.accuracy)},
                )
            )
        reasons += recall_drops(base, both)
        return Verdict(USERS_RULE, reasons)
    new_m, old_m = whole.candidate, whole.active
    if new_m.macro_f1 < old_m.macro_f1 - 1e-9:
        reasons.append(
            Reason(
                N_("macro-F1 %(new)s < active %(old)s"),
                {"new": f"{new_m.macro_f1:.4f}", "old": f"{old_m.macro_f1:.4f}"},
            )
        )
    if new_m.accuracy < old_m.accuracy - WHOLE_ACCURACY_DROP - 1e-9:
        reasons.append(
            Reason(
                N_("accuracy %(new)s < active %(old)s - 0.5 point"),
                {"new": pct(new_m.accuracy), "old": pct(old_m.accuracy)},
            )
        )
    reasons += recall_drops(whole, both)
    return Verdict(FEW_USERS_RULE, reasons)
