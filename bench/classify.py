"""Latency/throughput benchmark of the runtime classifier on a 1280x960 JPEG.

Usage: ``python bench/classify.py [--model ml/models] [--data DATASET_DIR] [--runs 200]``
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from ml.classifier import Classifier  # noqa: E402
from ml.embeddings import Backbone  # noqa: E402
from ml.image_io import decode_image  # noqa: E402
from ml.preprocess import preprocess  # noqa: E402


def make_photo(data_dir: Path) -> bytes:
    """A 1280x960 JPEG (quality 90) made by upscaling the first val image."""
    src = sorted((data_dir / "val").glob("*/*.jpg"))[0]
    image = Image.open(src).convert("RGB").resize((1280, 960), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def timings(
    fn: Callable[[], object], runs: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, float]:
    """Median and p95 time of ``fn`` in milliseconds on ``clock`` (wall time by default)
    after 5 warm-up calls."""
    for _ in range(5):
        fn()
    samples = []
    for _ in range(runs):
        t = clock()
        fn()
        samples.append((clock() - t) * 1000)
    return statistics.median(samples), float(np.percentile(samples, 95))


def throughput(clf: Classifier, data: bytes, workers: int, photos: int) -> float:
    """Photos per second with ``workers`` concurrent threads (one interpreter each)."""
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: clf.classify_bytes(data), range(workers * 4)))  # warm-up
        t = time.perf_counter()
        list(pool.map(lambda _: clf.classify_bytes(data), range(photos)))
    return photos / (time.perf_counter() - t)


def add_model_and_data(parser: argparse.ArgumentParser) -> None:
    """``--model`` (the shipped one) and ``--data`` (waste-v1, or ``DUMPIN_DATASET_DIR``)."""
    parser.add_argument("--model", type=Path, default=REPO / "ml" / "models")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(
            os.environ.get("DUMPIN_DATASET_DIR", REPO.parent / "shared" / "datasets" / "waste-v1")
        ),
    )


def main() -> int:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_and_data(parser)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    data = make_photo(args.data)
    clf = Classifier.load(args.model)
    array = preprocess(decode_image(data)).astype(np.float32)
    print(f"machine: {describe()}")
    print(
        f"model {clf.version}, {(args.model / 'backbone.tflite').stat().st_size / 1e6:.1f} MB "
        f"backbone, photo 1280x960 JPEG {len(data) / 1024:.0f} KiB, {args.runs} runs"
    )
    med, p95 = timings(lambda: preprocess(decode_image(data)), args.runs)
    row = "{:<26} median {:6.2f} ms  p95 {:6.2f} ms"
    print(row.format("decode+preprocess", med, p95))
    for threads in (1, 2):
        backbone = Backbone(args.model / "backbone.tflite", num_threads=threads)
        med, p95 = timings(partial(backbone.embed, array), args.runs)
        print(row.format(f"inference ({threads} thread{'s' if threads > 1 else ''})", med, p95))
    med, p95 = timings(lambda: clf.classify_bytes(data), args.runs)
    print(row.format("end-to-end (1 thread)", med, p95))
    for workers in (1, 2):
        rate = throughput(clf, data, workers, args.runs)
        print(
            f"throughput {workers} worker thread{'s' if workers > 1 else ''}: {rate:6.1f} photos/s"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
