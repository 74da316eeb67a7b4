"""What the classifier gains from other test-time views of a photo, or from a second backbone.

For a labelled folder: top-1 with the shipped view (shorter side to 224, centre crop), with
the whole photo padded to a white square or squashed to a square, and, given ``--second``,
with the average of the two models' probabilities and with a cascade that runs the second
model only when the first is unsure. Each model answers with its head and its memory.

    python bench/views.py [--data DIR] [--model DIR] [--second DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ml.classifier import Classifier
from ml.evaluate import labelled_samples
from ml.image_io import decode_path
from ml.preprocess import INPUT_SIZE, RESAMPLE, preprocess

REPO = Path(__file__).resolve().parent.parent
AVERAGE_WEIGHTS = (0.5, 0.6)
"""Weights of the first model in the two-model average."""
CASCADE_BELOW = (0.5, 0.7, 0.85)
"""The second model is asked when the first one's confidence is below this."""


def padded(image: Image.Image) -> np.ndarray:
    """The whole photo on a white square, resized to the input size."""
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(image, ((side - image.size[0]) // 2, (side - image.size[1]) // 2))
    return np.asarray(canvas.resize((INPUT_SIZE, INPUT_SIZE), RESAMPLE), dtype=np.uint8)


def squashed(image: Image.Image) -> np.ndarray:
    """The whole photo resized to a square (aspect ratio lost)."""
    return np.asarray(image.resize((INPUT_SIZE, INPUT_SIZE), RESAMPLE), dtype=np.uint8)


VIEWS: dict[str, Callable[[Image.Image], np.ndarray]] = {
    "centre crop (shipped)": preprocess,
    "padded to a white square": padded,
    "squashed to a square": squashed,
}


def accuracy(proba: np.ndarray, truth: np.ndarray) -> str:
    """Top-1 in percent."""
    return f"{100 * float(np.mean(proba.argmax(1) == truth)):.2f} %"


def main() -> None:
    """Print top-1 per view and, with ``--second``, for the two-model combinations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/datasets/waste-v1/val")
    parser.add_argument("--model", type=Path, default=REPO / "ml" / "models")
    parser.add_argument("--second", type=Path, default=None, help="a second model folder")
    args = parser.parse_args()
    first = Classifier.load(args.model)
    second = Classifier.load(args.second) if args.second else None
    samples = labelled_samples(args.data)
    truth = np.array([sample.label for sample in samples])
    probas: dict[str, list[np.ndarray]] = {name: [] for name in VIEWS}
    other: list[np.ndarray] = []
    square = 0
    for sample in samples:
        image = decode_path(sample.path)
        square += abs(image.size[0] - image.size[1]) <= 0.1 * max(image.size)
        for name, view in VIEWS.items():
            probas[name].append(first.probabilities(view(image)))
        if second is not None:
            other.append(second.probabilities(preprocess(image)))
    print(f"{len(samples)} photos ({len(samples) - square} not square), model {first.version}")
    for name, rows in probas.items():
        print(f"  {name}: {accuracy(np.array(rows), truth)}")
    if second is None:
        return
    a, b = np.array(probas["centre crop (shipped)"]), np.array(other)
    print(f"second model {second.version}: {accuracy(b, truth)}")
    for weight in AVERAGE_WEIGHTS:
        average = weight * a + (1 - weight) * b
        print(f"  average, first weighted {weight}: {accuracy(average, truth)}")
    for below in CASCADE_BELOW:
        asked = a.max(1) < below
        mixed = np.where(asked[:, None], (a + b) / 2, a)
        share = f"{100 * asked.mean():.1f} %"
        print(f"  second asked below {below} ({share}): {accuracy(mixed, truth)}")


if __name__ == "__main__":
    main()
