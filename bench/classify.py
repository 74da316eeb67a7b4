"""Latency/throughput benchmark of the runtime classifier on a 1280x960 JPEG, then end to end
on val photos of waste-v1 and wild-v1 enlarged to phone size (their longer side to 1280), where
a model with a second opinion asks its second backbone only for some.

Usage: ``python bench/classify.py [--model ml/models] [--data DATASET_DIR] [--wild DIR]
[--runs 200] [--photos 200]``
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
from ml.model_folder import SECOND_DIR  # noqa: E402
from ml.preprocess import preprocess  # noqa: E402


def jpeg(image: Image.Image) -> bytes:
    """``image`` as a quality-90 JPEG."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_photo(data_dir: Path) -> bytes:
    """A 1280x960 JPEG (quality 90) made by upscaling the first val image."""
    src = sorted((data_dir / "val").glob("*/*.jpg"))[0]
    return jpeg(Image.open(src).convert("RGB").resize((1280, 960), Image.Resampling.BICUBIC))


def phone_photos(dataset: Path, count: int) -> list[bytes]:
    """``count`` val photos of ``dataset``, evenly spread, enlarged (aspect kept) to a longer
    side of 1280 and saved as JPEG."""
    files = sorted((dataset / "val").glob("*/*"))
    photos = []
    for src in files[:: max(1, len(files) // count)][:count]:
        image = Image.open(src).convert("RGB")
        scale = 1280 / max(image.size)
        size = (round(image.size[0] * scale), round(image.size[1] * scale))
        photos.append(jpeg(image.resize(size, Image.Resampling.BICUBIC)))
    return photos


def on_photos(clf: Classifier, photos: list[bytes]) -> tuple[float, float, float]:
    """Median and p95 end-to-end milliseconds over ``photos`` (one thread) and the share of
    them for which the second model was asked."""
    for data in photos[:5]:
        clf.classify_bytes(data)
    samples, asked = [], 0
    for data in photos:
        t = time.perf_counter()
        asked += clf.classify_bytes(data).second_asked
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), float(np.percentile(samples, 95)), asked / len(photos)


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
    parser.add_argument("--wild", type=Path, default=REPO.parent / "shared/datasets/wild-v1")
    parser.add_argument("--photos", type=int, default=200, help="val photos per dataset")
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
    if (args.model / SECOND_DIR / "backbone.tflite").is_file():
        second = Backbone(args.model / SECOND_DIR / "backbone.tflite", num_threads=1)
        med, p95 = timings(partial(second.embed, array), args.runs)
        print(row.format("second model (1 thread)", med, p95))
    med, p95 = timings(lambda: clf.classify_bytes(data), args.runs)
    print(row.format("end-to-end (1 thread)", med, p95))
    for dataset in (args.data, args.wild):
        med, p95, asked = on_photos(clf, phone_photos(dataset, args.photos))
        label = f"{dataset.name}/val photos"
        print(row.format(label, med, p95) + f"  second model asked for {100 * asked:.0f} %")
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
