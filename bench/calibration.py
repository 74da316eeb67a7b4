"""How trustworthy the classifier's confidence is: the figures behind DUMPIN_LOW_CONFIDENCE.

For each threshold, on a labelled folder (default: the shared val split): the share of photos
at or above it, the accuracy there, and below it the accuracy and how often the right class is
in the top 3 (what the bot offers as buttons when unsure); and how many wrong answers the bot
would call « sûr ». Run it on real-world photos too (``--data ../shared/datasets/wild-v1/val``).

    python bench/calibration.py [--data DIR] [--model DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from db.categories import CLASSES
from ml.classifier import Classifier
from ml.evaluate import labelled_samples

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = (0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.85, 0.9)
SURE = 0.85
"""From this confidence on the bot calls its answer « sûr »."""


def main() -> None:
    """Print the calibration table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/datasets/waste-v1/val")
    parser.add_argument("--model", type=Path, default=REPO / "ml" / "models")
    args = parser.parse_args()
    classifier = Classifier.load(args.model)
    confidence, right, in_top3 = [], [], []
    for sample in labelled_samples(args.data):
        prediction = classifier.classify_path(sample.path)
        truth = CLASSES[sample.label]
        confidence.append(prediction.confidence)
        right.append(prediction.label == truth)
        in_top3.append(truth in {label for label, _ in prediction.top})
    conf, ok, top3 = np.array(confidence), np.array(right), np.array(in_top3)
    print(
        f"{len(conf)} photos, model {classifier.version}: top-1 {ok.mean():.3f}, "
        f"top-3 {top3.mean():.3f}"
    )
    wrong = ~ok
    sure_wrong = int((wrong & (conf >= SURE)).sum())
    print(
        f"wrong answers called « sûr » (>= {SURE}): {sure_wrong} of {int(wrong.sum())} "
        f"({sure_wrong / max(1, int(wrong.sum())):.1%}), {sure_wrong / len(conf):.1%} of photos"
    )
    print("threshold  share>=  acc>=  acc<  top3<")
    for threshold in THRESHOLDS:
        above = conf >= threshold
        below = ~above
        low = (ok[below].mean(), top3[below].mean()) if below.any() else (float("nan"),) * 2
        print(
            f"{threshold:9.2f}  {above.mean():7.3f}  {ok[above].mean():5.3f}  "
            f"{low[0]:4.3f}  {low[1]:5.3f}"
        )


if __name__ == "__main__":
    main()
