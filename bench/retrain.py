"""Time one head retraining on 10,000 embeddings (13 classes, 1280-d), as ``dumpin retrain``
fits it: ``python bench/retrain.py [--n 10000] [--users 0.1] [--weight 3]`` (synthetic class
clusters; a share ``--users`` of the rows are users' photos weighing ``--weight``, classes
balanced on the weighted counts). Each training image gives ``head.train_views`` rows (plain
+ augmented views; 1 for the shipped model)."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from ml.head import balanced_class_weight, train_head

CLASSES, DIM = 13, 1280


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` embeddings around 13 random centres, unbalanced like the dataset."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (CLASSES, DIM)).astype(np.float32)
    y = rng.choice(CLASSES, n, p=rng.dirichlet(np.full(CLASSES, 2.0)))
    x = centres[y] + rng.normal(0, 2, (n, DIM)).astype(np.float32)
    return np.maximum(x, 0), y


def main() -> int:
    """Print the wall time of one fit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--users", type=float, default=0.1, help="share of users' photos")
    parser.add_argument("--weight", type=float, default=5.0, help="their weight")
    args = parser.parse_args()
    x, y = synthetic(args.n)
    trained = np.ones(CLASSES, bool)
    w = np.where(np.arange(args.n) < args.users * args.n, args.weight, 1.0)
    started = time.perf_counter()
    head = train_head(x, y, balanced_class_weight(y, CLASSES, w), trained, sample_weight=w)
    seconds = time.perf_counter() - started
    accuracy = float((head.predict_proba(x).argmax(1) == y).mean())
    print(
        f"train_head: {args.n} embeddings x {DIM} dims, {CLASSES} classes, 600 Adam steps: "
        f"{seconds:.1f} s on {os.cpu_count()} cores (train accuracy {accuracy:.3f}; "
        f"budget 60 s: {'ok' if seconds < 60 else 'TOO SLOW'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
