"""A second backbone, asked only when the first one is not sure enough.

A model folder may carry another complete model folder in ``second/`` (backbone, head,
exemplars, card) and say in its card when to ask it: ``second_opinion.below`` is the first
model's confidence under which the second one is asked, ``second_opinion.weight`` the first
model's share of the average of their probabilities. Users' memory entries, retrains and
promotions concern the first model; the second one travels with it unchanged.
``python -m ml.second_model`` installs one (:mod:`ml.second_model`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

CARD_KEY = "second_opinion"


@dataclass(frozen=True)
class SecondOpinion:
    """When the second model is asked and how much each model weighs."""

    below: float
    weight: float

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> SecondOpinion | None:
        """The rule of a model card; None when the model has no second opinion."""
        entry = card.get(CARD_KEY)
        if not isinstance(entry, dict):
            return None
        return cls(below=float(entry["below"]), weight=float(entry["weight"]))

    def asked(self, first: np.ndarray) -> np.ndarray:
        """Whether the second model is asked, per row of the first one's probabilities."""
        return np.asarray(first.max(axis=-1) < self.below)

    def mix(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The weighted mean of both models' probabilities."""
        return np.asarray(self.weight * first + (1 - self.weight) * second, np.float32)

    def combine(
        self,
        head: np.ndarray,
        first: np.ndarray,
        second: np.ndarray,
        remember: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Probabilities [N, C] as the bot answers: ``first`` (the first model's ``head``
        blended with its memory by ``remember``) where it is sure enough, else the memory
        blended into the weighted mean of ``head`` and the ``second`` model's answer, so that
        the neighbours, users' corrections among them, weigh as much either way."""
        return np.where(self.asked(first)[:, None], remember(self.mix(head, second)), first)
