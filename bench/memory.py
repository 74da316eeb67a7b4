"""The nearest-neighbour memory at scale: query time and RAM with 0 to 100,000 users' entries,
the time to rebuild them from stored rows, and a whole answer with a full memory.

Usage: ``python bench/memory.py [--model ml/models] [--data DATASET_DIR] [--runs 500]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.classify import add_model_and_data, make_photo, timings  # noqa: E402
from bench.machine import describe  # noqa: E402
from ml.classifier import Classifier  # noqa: E402
from ml.memory import MAX_USER_ENTRIES, Memory  # noqa: E402
from ml.memory_sync import decode, encode  # noqa: E402

LARGEST = 100_000
"""Users' entries of the largest run (the bot keeps ``MAX_USER_ENTRIES``)."""


def rss_mib() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fake_embeddings(n: int, dims: int, seed: int) -> np.ndarray:
    """Backbone-like embeddings (non-negative, like the pooled features)."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_normal((n, dims), np.float32))


def main() -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_and_data(parser)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()

    clf = Classifier.load(args.model)
    if clf.memory is None:
        raise SystemExit("this model has no memory (exemplars.npz)")
    memory = Memory(clf.memory.exemplars, capacity=LARGEST)
    photo = make_photo(args.data)
    _, query = clf.embed_path(
        args.data
        / "val"
        / "verre"
        / sorted(p.name for p in (args.data / "val" / "verre").glob("*.jpg"))[0]
    )
    dims = query.shape[0]
    print(f"machine: {describe()}")
    print(f"model {clf.version}: {len(memory.exemplars.labels)} exemplars, {memory.card()}")
    proba = np.full((1, len(clf.classes)), 1 / len(clf.classes), np.float32)
    print(
        "| users' entries | query + blend, median | p95 | CPU time, median | RSS of the process |"
    )
    print("|---|---|---|---|---|")
    added = 0
    for target in (0, 10_000, MAX_USER_ENTRIES, LARGEST):
        while added < target:
            batch = fake_embeddings(min(250, target - added), dims, added)
            memory.add({added + i: (row, (added + i) % 12) for i, row in enumerate(batch)})
            added += len(batch)
        med, p95 = timings(lambda: memory.blend(proba, query[None]), args.runs)
        cpu, _ = timings(lambda: memory.blend(proba, query[None]), args.runs, time.thread_time)
        print(
            f"| {len(memory):,} | {med:.2f} ms | {p95:.2f} ms | {cpu:.2f} ms | "
            f"{rss_mib():.0f} MiB |"
        )
    bundle = clf._bundle
    plain = Memory(memory.exemplars)
    runs: dict[str, list[float]] = {"no memory": [], "exemplars only": [], "+ 100,000": []}
    for _ in range(args.runs // 2):  # interleaved, so that load from elsewhere hits all alike
        for name, current in zip(runs, (None, plain, memory), strict=True):
            bundle.memory = current
            start = time.perf_counter()
            clf.classify_bytes(photo)
            runs[name].append((time.perf_counter() - start) * 1000)
    print(
        "whole answer (decode + preprocess + inference + memory, 1280x960 JPEG, 1 thread), "
        "median: " + ", ".join(f"{k} {statistics.median(v):.2f} ms" for k, v in runs.items())
    )
    rows = [encode(v) for v in fake_embeddings(20_000, dims, 7)]
    start = time.perf_counter()
    entries = {10**6 + i: (decode(text), i % 12) for i, text in enumerate(rows)}
    memory.add(entries)
    per_100k = (time.perf_counter() - start) * LARGEST / len(rows)
    print(f"rebuild from stored rows (decode + project + add): {per_100k:.1f} s per 100,000")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
