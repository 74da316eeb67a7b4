"""Rank head and test-time levers in minutes on cached embeddings of one TFLite backbone.

Each head is a numpy softmax head (``ml.head``) fitted on the fit part of the train splits;
the selection subsets carved out of them (``ml.dataset.split_selection``) choose, the val
splits report. Prints a markdown table (no TensorFlow needed)::

    python -m ml.levers --model ml/models --work /work/scratch/model/levers
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from db.categories import CLASSES
from ml.dataset import Sample, list_split, split_selection
from ml.head import Head, balanced_class_weight, train_head
from ml.preprocess import INPUT_SIZE, preprocess
from ml.retrain import TRAINED, ViewEmbedder, log

SURE = 0.85
WASTE_SELECTION_EVERY = 10
"""One waste-v1/train file in 10 is kept out of training to choose epochs and settings."""
WILD_SELECTION_EVERY = 4
"""One wild-v1/train file in 4 (its train split is small)."""


def centre_zoom(image: Image.Image, fraction: float) -> np.ndarray:
    """The centre ``fraction`` of the shorter side, as a model input."""
    w, h = image.size
    side = fraction * min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    return preprocess(image.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, box=box))


def flipped(image: Image.Image) -> np.ndarray:
    """The runtime preprocessing of the mirrored image."""
    return preprocess(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


@dataclass(frozen=True)
class Split:
    """Embeddings of one labelled split under the views a lever needs."""

    name: str
    y: np.ndarray
    views: dict[str, np.ndarray]


def _labels(samples: Sequence[Sample]) -> np.ndarray:
    return np.array([s.label for s in samples], int)


def _scores(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and the share of wrong answers the bot would call « sûr »."""
    pred, conf = proba.argmax(1), proba.max(1)
    wrong = pred != y
    sure_wrong = float((wrong & (conf >= SURE)).sum() / max(1, wrong.sum()))
    return float((~wrong).mean()), sure_wrong


def fit(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], weights: Sequence[float]) -> Head:
    """A class-balanced head over several sources, each source's rows scaled by a weight."""
    X, y = np.concatenate(xs), np.concatenate(ys)
    w = np.concatenate([np.full(len(yy), wt) for yy, wt in zip(ys, weights, strict=True)])
    return train_head(X, y, balanced_class_weight(y, len(CLASSES)), TRAINED, sample_weight=w)


def video_of(dataset: Path) -> dict[str, str]:
    """``{file name: source video}`` for wild-v1's packaging crops (``labtrashN``, from its
    MANIFEST.csv); other files are absent."""
    out = {}
    with (dataset / "MANIFEST.csv").open() as fh:
        for row in csv.DictReader(fh):
            match = re.search(r"/(labtrash\d+)_", row["source_path"])
            if match:
                out[Path(row["file"]).name] = match.group(1)
    return out


def leakage_table(
    fits: Sequence[Split], wild_val: Split, wild_fit: list[Sample], val: list[Sample], dataset: Path
) -> None:
    """wild-v1/val crops of videos 5-8 scored by heads that saw none, half (videos 1-4) or
    all of the wild-v1 training videos: how much of the wild-v1 gain is the same videos."""
    video = video_of(dataset)
    seen = {f"labtrash{i}" for i in range(1, 5)}
    unseen = np.array([video.get(s.path.name, "") not in {"", *seen} for s in val])
    half = np.array([video.get(s.path.name, "") in seen for s in wild_fit])
    x, y = fits[0].views["plain"], fits[0].y
    wx, wy = fits[1].views["plain"], fits[1].y
    heads = {
        "waste-v1 fit only": fit([x], [y], [1.0]),
        "+ wild-v1 fit of videos 1-4 (val videos unseen)": fit(
            [x, wx[half]], [y, wy[half]], [1, 1]
        ),
        "+ wild-v1 fit of all videos (val videos seen)": fit([x, wx], [y, wy], [1.0, 1.0]),
    }
    print(f"\n| head, scored on wild-v1/val crops of videos 5-8 (n={unseen.sum()}) | top-1 |")
    print("|---|---|")
    for name, head in heads.items():
        proba = head.predict_proba(wild_val.views["plain"][unseen])
        print(f"| {name} | {_scores(proba, wild_val.y[unseen])[0] * 100:.1f} |", flush=True)


def _plain(head: Head) -> Callable[[Split], np.ndarray]:
    return lambda s: head.predict_proba(s.views["plain"])


def _on_view(head: Head, view: str) -> Callable[[Split], np.ndarray]:
    return lambda s: head.predict_proba(s.views[view])


def _mean(head: Head, view: str) -> Callable[[Split], np.ndarray]:
    return lambda s: (head.predict_proba(s.views["plain"]) + head.predict_proba(s.views[view])) / 2


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The model, the two datasets and the embedding cache a study on the shipped backbone reads."""
    parser.add_argument("--model", type=Path, default=Path("ml/models"))
    parser.add_argument("--waste", type=Path, default=Path("../shared/datasets/waste-v1"))
    parser.add_argument("--wild", type=Path, default=Path("../shared/datasets/wild-v1"))
    parser.add_argument("--work", type=Path, required=True, help="embedding cache folder")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the lever table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    args = parser.parse_args(argv)

    emb = ViewEmbedder(args.model / "backbone.tflite", args.work / "embeddings")
    waste_fit, waste_sel = split_selection(list_split(args.waste, "train"), WASTE_SELECTION_EVERY)
    wild_fit, wild_sel = split_selection(list_split(args.wild, "train"), WILD_SELECTION_EVERY)
    waste_val, wild_val = list_split(args.waste, "val"), list_split(args.wild, "val")
    test_views: dict[str, Callable[[Image.Image], np.ndarray]] = {
        "zoom80": lambda im: centre_zoom(im, 0.8),
        "flip": flipped,
    }

    def split(name: str, samples: list[Sample], views: bool) -> Split:
        paths = [s.path for s in samples]
        log(f"embedding {name} ({len(paths)})")
        out = {"plain": emb.plain(paths)}
        if views:
            out.update({k: emb.view(k, paths, make) for k, make in test_views.items()})
        if name == "waste-val":
            out["scene"] = emb.scene(paths)
        return Split(name, _labels(samples), out)

    fits = [split("waste-fit", waste_fit, False), split("wild-fit", wild_fit, False)]
    reports = [
        split("waste-sel", waste_sel, True),
        split("wild-sel", wild_sel, True),
        split("waste-val", waste_val, True),
        split("wild-val", wild_val, True),
    ]
    heads: dict[str, Head] = {}
    if (args.model / "head.npz").exists():
        heads["model's own head (waste-v1/train, all of it)"] = Head.load(args.model / "head.npz")
    x = [s.views["plain"] for s in fits]
    y = [s.y for s in fits]
    heads["head: waste-v1 fit"] = fit(x[:1], y[:1], [1.0])
    heads["head: + wild-v1 fit"] = fit(x, y, [1.0, 1.0])
    heads["head: + wild-v1 fit x4"] = fit(x, y, [1.0, 4.0])

    cols = ["waste-sel", "wild-sel", "waste-val", "wild-val", "val-scene", "wild-val sûr wrong"]
    print("| lever | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")

    def row(name: str, head: Head, combine: Callable[[Split], np.ndarray]) -> None:
        cells = []
        for s in reports:
            acc, sure_wrong = _scores(combine(s), s.y)
            cells.append(f"{acc * 100:.1f}")
            if s.name == "wild-val":
                wild_sure_wrong = sure_wrong
        scene = reports[2].views["scene"]
        cells.append(f"{_scores(head.predict_proba(scene), reports[2].y)[0] * 100:.1f}")
        cells.append(f"{wild_sure_wrong * 100:.0f} %")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

    for name, head in heads.items():
        row(name, head, _plain(head))
    best = "head: + wild-v1 fit"
    head = heads[best]
    for view in test_views:
        row(f"{best}, test view {view}", head, _on_view(head, view))
        row(f"{best}, mean of plain + {view}", head, _mean(head, view))
    leakage_table(fits, reports[3], wild_fit, wild_val, args.wild)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
