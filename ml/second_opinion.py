"""A second backbone, asked only when the first one is not sure enough.

A model folder may carry another complete model folder in ``second/`` (backbone, head,
exemplars, card) and say in its card when to ask it: ``second_opinion.below`` is the first
model's confidence under which the second one is asked, ``second_opinion.weight`` the first
model's share of the average of their probabilities. Users' memory entries, retrains and
promotions concern the first model; the second one travels with it unchanged.

    python -m ml.second_opinion --model ml/models --second DIR [--below 0.7] [--weight 0.5]
        [--val DIR ...]

copies ``DIR`` into ``ml/models/second/`` and records the rule, with the figures of each
``--val`` folder answered by the pair.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.model_folder import SECOND_DIR, model_files

CARD_KEY = "second_opinion"
BELOW, WEIGHT = 0.7, 0.5
"""The rule's defaults: ask below 0.7 (the second backbone then runs for about a third of
real-world photos, so the median answer pays one inference), weigh both models alike."""


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


def install(model_dir: Path, second_dir: Path, rule: SecondOpinion) -> dict[str, Any]:
    """Copy ``second_dir``'s model files into ``model_dir/second/`` and record ``rule`` and
    the second model's identity in ``model_dir``'s card; returns the card's new entry."""
    target = model_dir / SECOND_DIR
    if target.resolve() != second_dir.resolve():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in model_files(second_dir):
            shutil.copyfile(second_dir / name, target / name)
    second = _card(target)
    card = _card(model_dir)
    card[CARD_KEY] = {
        **asdict(rule),
        "folder": SECOND_DIR,
        "version": second["version"],
        "backbone": second.get("backbone", {}).get("id"),
        "variant": second.get("backbone", {}).get("variant"),
        "chosen_by": "set on the command line (ml.second_opinion), not chosen on a scored split",
    }
    _write_card(model_dir, card)
    return dict(card[CARD_KEY])


def _card(model_dir: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((model_dir / "model.json").read_text())
    return card


def _write_card(model_dir: Path, card: dict[str, Any]) -> None:
    (model_dir / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Install a second opinion and report the pair on each ``--val`` folder."""
    from ml.classifier import Classifier  # noqa: PLC0415
    from ml.evaluate import evaluate  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the first model's folder")
    parser.add_argument("--second", type=Path, required=True, help="the second model's folder")
    parser.add_argument("--below", type=float, default=BELOW)
    parser.add_argument("--weight", type=float, default=WEIGHT)
    parser.add_argument("--val", type=Path, action="append", default=[], help="labelled folder")
    args = parser.parse_args(argv)
    entry = install(args.model, args.second, SecondOpinion(args.below, args.weight))
    classifier = Classifier.load(args.model)
    metrics: dict[str, Any] = {}
    for folder in args.val:
        report = evaluate(classifier, folder)
        name = f"{folder.parent.name}/{folder.name}"
        metrics[name] = {"accuracy": report.accuracy, "macro_f1": report.macro_f1, "n": report.n}
        print(f"{name}: top-1 {report.accuracy:.4f}, macro-F1 {report.macro_f1:.4f}")
    if metrics:
        card = _card(args.model)
        card[CARD_KEY] = {**entry, "metrics": metrics}
        _write_card(args.model, card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
