"""Choose the weight of users' photos in retraining on held-out real-world photos.

``python bench/domain_weight.py --work DIR [--weights 0 1 2 3 5 10]``: wild-v1/val stands in
for users' photos. It is cut in two halves (its packaging crops by source video, 1-4 against
5-8, so that a half is never scored on crops of videos it sent; the other photos by hash);
one half is "sent by users" and harvested as ``dumpin harvest`` splits it (70 % train, 15 %
val, 15 % test, by hash), a head is fitted as ``dumpin retrain`` fits it (waste-v1/train +
wild-v1/train at weight 1, the half's train split at the weight tried, balanced classes,
plain views as the shipped card says; ``--without-extra``: no wild-v1/train, so that
users' photos are the only real-world ones, as for a kind of photo no dataset covers) and
scored on the other half (never trained on) and on waste-v1/val; then the halves swap.
``gate`` says whether the promotion gate (:mod:`ml.gate`) promotes it over the shipped head
on the half's harvested test photos.
Embeddings come from the cache in ``DIR`` (computed there once by the shipped backbone).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

from db.categories import CLASSES
from db.splits import split_of
from ml.dataset import Sample, list_split
from ml.gate import Compared, judge
from ml.head import Head
from ml.levers import video_of
from ml.metrics import compute_metrics
from ml.retrain import TRAINED, ViewEmbedder, train_on_views

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"


def halves(wild: Path) -> tuple[list[Sample], list[Sample]]:
    """wild-v1/val cut in two: packaging crops of videos 1-4 / 5-8, the rest by hash."""
    videos = video_of(wild)
    first: list[Sample] = []
    second: list[Sample] = []
    for sample in list_split(wild, "val"):
        video = videos.get(sample.path.name)
        if video is not None:
            early = int(video.removeprefix("labtrash")) <= 4
        else:
            early = hashlib.sha256(sample.path.read_bytes()).digest()[0] % 2 == 0
        (first if early else second).append(sample)
    return first, second


def labels(samples: list[Sample]) -> np.ndarray:
    """Class indices."""
    return np.array([s.label for s in samples], int)


def main() -> int:
    """Print one table row per weight and fold, then the mean over both folds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="embedding cache folder")
    parser.add_argument("--model", type=Path, default=REPO / "ml" / "models")
    parser.add_argument("--weights", type=float, nargs="+", default=[0, 1, 2, 3, 5, 10])
    parser.add_argument(
        "--without-extra",
        action="store_true",
        help="base = waste-v1/train only: users' photos are the only real-world ones",
    )
    args = parser.parse_args()
    waste, wild = DATASETS / "waste-v1", DATASETS / "wild-v1"
    emb = ViewEmbedder(args.model / "backbone.tflite", args.work / "embeddings")
    shipped = Head.load(args.model / "head.npz").masking(CLASSES, {"dechets_verts"})
    base = list_split(waste, "train") + ([] if args.without_extra else list_split(wild, "train"))
    base_val = list_split(waste, "val")
    x_base_val = emb.plain([s.path for s in base_val])
    folds = halves(wild)
    print("| weight | users' half | train photos | held-out half: top-1 | waste-v1/val | gate |")
    print("|---|---|---|---|---|---|")
    means: dict[float, list[tuple[float, float]]] = {}
    for fold, (sent, held) in enumerate((folds, folds[::-1]), 1):
        digests = [hashlib.sha256(s.path.read_bytes()).hexdigest() for s in sent]
        user_train = [s for s, d in zip(sent, digests, strict=True) if split_of(d) == "train"]
        user_test = [s for s, d in zip(sent, digests, strict=True) if split_of(d) == "test"]
        x_held = emb.plain([s.path for s in held])
        x_user_test = emb.plain([s.path for s in user_test])
        for weight in args.weights:
            train = base + (user_train if weight > 0 else [])
            w = np.array([1.0] * len(base) + [weight] * (len(train) - len(base)))
            started = time.perf_counter()
            head = train_on_views(
                emb, [s.path for s in train], labels(train), TRAINED, 0, 1234, None, w
            )
            seconds = time.perf_counter() - started
            held_acc = float((head.predict_proba(x_held).argmax(1) == labels(held)).mean())
            base_pred = head.predict_proba(x_base_val).argmax(1)
            base_acc = float((base_pred == labels(base_val)).mean())
            means.setdefault(weight, []).append((held_acc, base_acc))

            def compared(new: Head, x: np.ndarray, y: np.ndarray) -> Compared:
                p_new, p_old = new.predict_proba(x), shipped.predict_proba(x)
                return Compared(
                    compute_metrics(y, p_new.argmax(1), len(CLASSES), p_new),
                    compute_metrics(y, p_old.argmax(1), len(CLASSES), p_old),
                )

            users = compared(head, x_user_test, labels(user_test))
            base_part = compared(head, x_base_val, labels(base_val))
            whole = compared(
                head,
                np.concatenate([x_base_val, x_user_test]),
                np.concatenate([labels(base_val), labels(user_test)]),
            )
            verdict = judge(base_part, users, whole, head.trained, shipped.trained)
            gate = "promoted" if verdict.promote else "; ".join(r.text() for r in verdict.reasons)
            print(
                f"| {weight:g} | {fold} ({len(sent)} sent, {len(user_train)} train, "
                f"{len(user_test)} test) | {len(train)} | {100 * held_acc:.1f} "
                f"| {100 * base_acc:.1f} | {gate} ({seconds:.0f} s fit) |",
                flush=True,
            )
    print("\n| weight | held-out half, mean of both folds | waste-v1/val, mean |")
    print("|---|---|---|")
    for weight, rows in means.items():
        held_mean, base_mean = np.mean(rows, axis=0)
        print(f"| {weight:g} | {100 * held_mean:.1f} | {100 * base_mean:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
