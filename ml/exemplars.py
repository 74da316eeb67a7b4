"""Build the shipped nearest-neighbour memory (``exemplars.npz``) and choose how it blends.

Deterministic, from the datasets by path and the model's own backbone (embeddings cached,
no TensorFlow)::

    python -m ml.exemplars --model ml/models --work .cache/train

1. **Choose** on the selection subsets (``ml.dataset.split_selection``: 1 waste-v1/train
   file in 10, 1 wild-v1/train file in 4), answered by a head and exemplars built from the
   rest of the train splits: first the head's temperature (the lowest of
   :data:`HEAD_TEMPERATURES` whose « sûr » answers are right at least :data:`SURE_RIGHT` of
   the time on each subset), then ``k``, the vote's temperature, ``alpha`` and the similarity
   threshold. A backbone fine-tuned on all of waste-v1/train, selection subset included,
   flatters neighbours on the waste-v1 subset; wild-v1's counts as much.
2. **Build** the exemplars from all of waste-v1/train + wild-v1/train (what the shipped head
   was fitted on), temper the model's head and **report** both on waste-v1/val and
   wild-v1/val, never used to choose. Writes ``exemplars.npz``, ``head.npz`` (its
   temperature) and the ``memory`` section of ``model.json`` (and a new version: answers
   change).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from db.categories import CLASSES
from ml.dataset import Sample, list_split, split_selection
from ml.head import Head
from ml.head_calibration import HEAD_TEMPERATURES, SURE_RIGHT, choose_temperature
from ml.levers import (
    SURE,
    WASTE_SELECTION_EVERY,
    WILD_SELECTION_EVERY,
    add_study_arguments,
    fit,
)
from ml.memory import EXEMPLARS_FILE, BlendParams, Memory, blend, build_exemplars
from ml.metrics import compute_metrics
from ml.retrain import ViewEmbedder, log, metrics_json

DIMS = 128
"""Memory dimensions: 256 scored the same (BENCHMARKS.md); 128 halves the RAM and the time
of a query over 100,000 users' entries."""
GRID = {
    "k": (5, 10, 20, 30),
    "temperature": (0.02, 0.05, 0.1),
    "alpha": (0.3, 0.5, 0.7),
    "threshold": (0.5, 0.6, 0.7, 0.8),
}


def _xy(emb: ViewEmbedder, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    return emb.plain([s.path for s in samples]), np.array([s.label for s in samples], int)


def sure_wrong(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Wrong answers called « sûr »: share of the wrong answers and share of all photos."""
    wrong = proba.argmax(1) != y
    sure = wrong & (proba.max(1) >= SURE)
    return float(sure.sum() / max(1, wrong.sum())), float(sure.mean())


@dataclass(frozen=True)
class Choice:
    """What :func:`choose` chose, and the rows it chose from."""

    head_temperature: float
    calibration: list[dict[str, Any]]
    params: BlendParams
    rows: list[dict[str, Any]]


def held_out(
    emb: ViewEmbedder, waste: Path, wild: Path
) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``((x, y), subsets)``: the embeddings and labels of both train splits without their
    selection subsets, and ``{name: (x, y)}`` of the two selection subsets."""
    waste_fit, waste_sel = split_selection(list_split(waste, "train"), WASTE_SELECTION_EVERY)
    wild_fit, wild_sel = split_selection(list_split(wild, "train"), WILD_SELECTION_EVERY)
    x, y = _xy(emb, waste_fit + wild_fit)
    subsets = {"waste-v1 selection": _xy(emb, waste_sel), "wild-v1 selection": _xy(emb, wild_sel)}
    return (x, y), subsets


def choose(emb: ViewEmbedder, waste: Path, wild: Path) -> Choice:
    """The head's temperature, then the blend grid point with the best mean top-1 over the two
    selection subsets (ties: fewer wrong « sûr » on wild-v1's, then grid order)."""
    (x_fit, y_fit), subsets = held_out(emb, waste, wild)
    fitted = fit([x_fit], [y_fit], [1.0])
    head_temperature, calibration = choose_temperature(fitted, subsets)
    head = fitted.tempered(head_temperature)
    largest = int(max(GRID["k"]))
    memory = Memory(
        build_exemplars(emb.backbone.id, x_fit, y_fit, BlendParams(largest, 1.0, 0.0, -1.0), DIMS)
    )
    found = {
        name: (head.predict_proba(x), *memory.neighbours(x), y) for name, (x, y) in subsets.items()
    }
    rows = []
    for k, temperature, alpha, threshold in itertools.product(*GRID.values()):
        params = BlendParams(int(k), temperature, alpha, threshold)
        row: dict[str, Any] = {"params": params}
        for name, (proba, sims, labels, y) in found.items():
            mixed = _blend_k(proba, sims, labels, params)
            row[name] = float((mixed.argmax(1) == y).mean())
            row[f"{name} sure_wrong"] = sure_wrong(mixed, y)[0]
        row["score"] = (row["waste-v1 selection"] + row["wild-v1 selection"]) / 2
        rows.append(row)
    head_only = {name: float((p.argmax(1) == y).mean()) for name, (p, _, _, y) in found.items()}
    rows.append({"params": None, **head_only})
    best = max(rows[:-1], key=lambda r: (r["score"], -r["wild-v1 selection sure_wrong"]))
    return Choice(head_temperature, calibration, best["params"], rows)


def _blend_k(
    proba: np.ndarray, sims: np.ndarray, labels: np.ndarray, params: BlendParams
) -> np.ndarray:
    return blend(proba, sims[:, : params.k], labels[:, : params.k], params)


def report(head: Head, memory: Memory, emb: ViewEmbedder, samples: list[Sample]) -> dict[str, Any]:
    """Head alone and head + memory on one labelled split (card form)."""
    x, y = _xy(emb, samples)
    out: dict[str, Any] = {}
    alone = head.predict_proba(x)
    for name, proba in (("head", alone), ("with_memory", memory.blend(alone, x))):
        out[name] = metrics_json(compute_metrics(y, proba.argmax(1), len(CLASSES)))
        share_wrong, share_all = sure_wrong(proba, y)
        out[name]["sure_wrong_share_of_wrong"] = round(share_wrong, 4)
        out[name]["sure_wrong_share_of_all"] = round(share_all, 4)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Choose, build, write ``exemplars.npz`` and ``model.json``; print the choice table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    args = parser.parse_args(argv)

    emb = ViewEmbedder(args.model / "backbone.tflite", args.work / "embeddings")
    log("choosing the head's temperature and the blend on the selection subsets")
    choice = choose(emb, args.waste, args.wild)
    params = choice.params
    log(f"head temperature {choice.head_temperature}: {choice.calibration}")
    _print_table(choice.rows, params)
    train = list_split(args.waste, "train") + list_split(args.wild, "train")
    x, y = _xy(emb, train)
    exemplars = build_exemplars(emb.backbone.id, x, y, params, DIMS)
    exemplars.save(args.model / EXEMPLARS_FILE)
    card: dict[str, Any] = json.loads((args.model / "model.json").read_text())
    tempered = Head.load(args.model / "head.npz").tempered(choice.head_temperature)
    tempered.save(args.model / "head.npz")
    card["head"]["temperature"] = choice.head_temperature
    card["head"]["temperature_chosen"] = {
        "grid": list(HEAD_TEMPERATURES),
        "rule": f"lowest whose « sûr » answers are right at least {SURE_RIGHT:.0%} of the time "
        "on each selection subset (head fitted on the rest of the train splits)",
        "rows": choice.calibration,
    }
    head = tempered.masking(CLASSES, card.get("untrained_classes", []))
    memory = Memory(exemplars)
    figures = {
        "waste-v1/val": report(head, memory, emb, list_split(args.waste, "val")),
        "wild-v1/val": report(head, memory, emb, list_split(args.wild, "val")),
    }
    created = datetime.now(UTC)
    card["version"] = f"{created:%Y%m%d.%H%M}-{emb.backbone.id[:8]}"
    card["memory"] = {
        "file": EXEMPLARS_FILE,
        "exemplars": len(exemplars.labels),
        "from": ["waste-v1/train", "wild-v1/train"],
        "projection": f"PCA to {DIMS} dimensions fitted on the exemplars, L2-normalised",
        "storage": "float16 vectors, int16 labels",
        "similarity": "cosine",
        "weights": "softmax((cosine - 1) / temperature) over the k nearest entries at or over "
        "the threshold; proba = (1 - alpha) * head + alpha * vote when one is",
        "params": params.to_dict(),
        "grid": {k: list(v) for k, v in GRID.items()},
        "chosen_on": "mean top-1 on the selection subsets (1 waste-v1/train file in 10, 1 "
        "wild-v1/train file in 4 by SHA-256), a head and exemplars built from the rest of the "
        "train splits; waste-v1/val and wild-v1/val never chose anything",
        "users": "confirmed photos of consenting users (train split by hash) join the same "
        "memory while the bot runs (table memory_entries)",
        "metrics": figures,
        "command": "python -m ml.exemplars " + " ".join(sys.argv[1:] if argv is None else argv),
        "built": created.isoformat(timespec="seconds"),
    }
    (args.model / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    for split, figs in figures.items():
        log(
            f"{split}: head {figs['head']['accuracy']:.4f} / {figs['head']['macro_f1']:.4f}, "
            f"with memory {figs['with_memory']['accuracy']:.4f} / "
            f"{figs['with_memory']['macro_f1']:.4f}"
        )
    return 0


def _print_table(rows: list[dict[str, Any]], chosen: BlendParams) -> None:
    head_only = rows[-1]
    ranked = sorted(rows[:-1], key=lambda r: -r["score"])
    print(
        "| k | temperature | alpha | threshold | waste-v1 sel | wild-v1 sel | wild sel sûr wrong |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| head alone | | | | {head_only['waste-v1 selection'] * 100:.1f} | "
        f"{head_only['wild-v1 selection'] * 100:.1f} | |"
    )
    for row in ranked[:12]:
        p = row["params"]
        mark = " (chosen)" if p == chosen else ""
        print(
            f"| {p.k}{mark} | {p.temperature} | {p.alpha} | {p.threshold} | "
            f"{row['waste-v1 selection'] * 100:.1f} | {row['wild-v1 selection'] * 100:.1f} | "
            f"{row['wild-v1 selection sure_wrong'] * 100:.0f} % |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
