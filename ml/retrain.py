"""Fit the numpy head on cached embeddings of a TFLite backbone (no TensorFlow).

``ml.train`` calls :func:`fit_head` for the shipped head; :func:`retrain` re-runs it for an
existing model folder (e.g. after the dataset grew) and rewrites ``head.npz`` and the
metrics of ``model.json``. With the same data, backbone and settings both produce the
same head.

Usage: ``python -m ml.retrain --data DIR --model ml/models --work DIR``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ml.augment import AUGMENT_VERSION, augment, scene_view
from ml.dataset import CLASSES, UNTRAINED, Sample, class_counts, list_split
from ml.embeddings import Backbone, EmbeddingCache, file_sha256
from ml.head import L2, LABEL_SMOOTHING, Head, balanced_class_weight, train_head
from ml.image_io import decode_path
from ml.metrics import Metrics, compute_metrics
from ml.preprocess import preprocess

SCENE_SEED = 20240
TRAINED = np.array([c not in UNTRAINED for c in CLASSES])


def log(msg: str) -> None:
    """Timestamped progress line on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def subsample(samples: list[Sample], limit: int | None, seed: int) -> list[Sample]:
    """A deterministic random subset of ``limit`` samples (all when ``limit`` is None)."""
    if limit is None or limit >= len(samples):
        return samples
    idx = np.random.default_rng(seed).choice(len(samples), limit, replace=False)
    return [samples[i] for i in sorted(idx)]


def load_splits(data_dir: Path, limit: int | None, seed: int) -> tuple[list[Sample], ...]:
    """Train and val samples (``limit`` train, ``limit // 4`` val for smoke runs)."""
    train = subsample(list_split(data_dir, "train"), limit, seed)
    val = subsample(list_split(data_dir, "val"), limit and max(20, limit // 4), seed)
    return train, val


def load_images(samples: Sequence[Sample]) -> dict[Path, Image.Image]:
    """Decode every sample once (same decoder as the runtime)."""
    return {s.path: decode_path(s.path) for s in samples}


class ViewEmbedder:
    """Embeds dataset images with a TFLite backbone, through the embedding cache."""

    def __init__(self, tflite: Path, cache_root: Path, images: dict[Path, Image.Image]) -> None:
        self.backbone = Backbone(tflite, num_threads=2)
        self.cache = EmbeddingCache(cache_root, self.backbone.id)
        self.images = images

    def _run(self, paths: list[Path], make: Callable[[Path], np.ndarray]) -> np.ndarray:
        total = len(paths)

        def progress(i: int) -> None:
            if i % 2000 == 0 or i == total:
                log(f"    embedded {i}/{total}")

        return self.backbone.embed_many((make(p) for p in paths), progress)

    def plain(self, paths: list[Path]) -> np.ndarray:
        """Embeddings of the runtime preprocessing of each file."""
        return self.cache.get_or_compute(
            "plain", paths, lambda ps: self._run(ps, lambda p: preprocess(self.images[p]))
        )

    def augmented(self, paths: list[Path], view: int, seed: int) -> np.ndarray:
        """One deterministic augmented view per file (backgrounds drawn from ``paths``)."""
        others = [self.images[p] for p in paths]

        def make(p: Path) -> np.ndarray:
            rng = np.random.default_rng([seed, view, int(file_sha256(p, 12), 16)])
            return augment(self.images[p], rng, others)

        key = f"aug{view}_seed{seed}_a{AUGMENT_VERSION}"
        return self.cache.get_or_compute(key, paths, lambda ps: self._run(ps, make))

    def scene(self, paths: list[Path]) -> np.ndarray:
        """Embeddings of the deterministic val-scene composites of ``paths``
        (item ``paths[i]`` composited with seed ``SCENE_SEED + i``)."""
        others = [self.images[p] for p in paths]
        index = {p: i for i, p in enumerate(paths)}

        def make(p: Path) -> np.ndarray:
            return scene_view(self.images[p], SCENE_SEED + index[p], others)

        key = f"scene{SCENE_SEED}_n{len(paths)}_a{AUGMENT_VERSION}"
        return self.cache.get_or_compute(key, paths, lambda ps: self._run(ps, make))


@dataclass(frozen=True)
class HeadFit:
    """A fitted head and its metrics on val and val-scene."""

    head: Head
    val: Metrics
    val_scene: Metrics


def fit_head(
    emb: ViewEmbedder, train: list[Sample], val: list[Sample], views: int, seed: int
) -> HeadFit:
    """Fit the head on plain + ``views`` augmented embeddings of ``train``; score on val."""
    paths = [s.path for s in train]
    y = np.array([s.label for s in train])
    X = [emb.plain(paths)] + [emb.augmented(paths, v, seed) for v in range(views)]
    head = train_head(
        np.concatenate(X),
        np.tile(y, len(X)),
        balanced_class_weight(y[TRAINED[y]], len(CLASSES)),
        TRAINED,
    )
    val_paths = [s.path for s in val]
    vy = np.array([s.label for s in val])
    plain = head.predict_proba(emb.plain(val_paths)).argmax(1)
    scene = head.predict_proba(emb.scene(val_paths)).argmax(1)
    return HeadFit(
        head, compute_metrics(vy, plain, len(CLASSES)), compute_metrics(vy, scene, len(CLASSES))
    )


def metrics_json(m: Metrics) -> dict[str, Any]:
    """Model-card form of :class:`Metrics`."""
    return {
        "n": m.n,
        "accuracy": round(m.accuracy, 4),
        "macro_f1": round(m.macro_f1, 4),
        "per_class": {
            c: {"precision": m.precision[i], "recall": m.recall[i], "support": m.support[i]}
            for i, c in enumerate(CLASSES)
        },
        "confusion": m.confusion,
    }


def retrain(
    data_dir: Path,
    model_dir: Path,
    work_dir: Path,
    views: int = 2,
    seed: int = 1234,
    command: str = "",
    limit: int | None = None,
) -> dict[str, Any]:
    """Refit ``model_dir/head.npz`` on ``data_dir`` with the model's own backbone and
    update ``model.json`` (version, head, dataset counts, metrics)."""
    model_dir = Path(model_dir)
    card: dict[str, Any] = json.loads((model_dir / "model.json").read_text())
    if list(card["classes"]) != list(CLASSES):
        raise ValueError("model.json classes differ from ml.dataset.CLASSES")
    train_s, val_s = load_splits(data_dir, limit, seed)
    log(f"{len(train_s)} train / {len(val_s)} val images; decoding")
    emb = ViewEmbedder(
        model_dir / "backbone.tflite", Path(work_dir) / "embeddings", load_images(train_s + val_s)
    )
    fit = fit_head(emb, train_s, val_s, views, seed)
    log(
        f"val {fit.val.accuracy:.4f} macro-F1 {fit.val.macro_f1:.4f} "
        f"val-scene {fit.val_scene.accuracy:.4f}"
    )
    created = datetime.now(UTC)
    card["version"] = f"{created:%Y%m%d.%H%M}-{emb.backbone.id[:8]}"
    card["head"] = {
        "type": "softmax regression (numpy, ml.head)",
        "train_views": 1 + views,
        "l2": L2,
        "label_smoothing": LABEL_SMOOTHING,
        "augment_version": AUGMENT_VERSION,
        "seed": seed,
        "fitted": created.isoformat(timespec="seconds"),
        "command": command,
    }
    card.setdefault("dataset", {}).update(
        path=str(data_dir),
        limit=limit,
        train_counts=class_counts(train_s),
        val_counts=class_counts(val_s),
    )
    card.setdefault("metrics", {}).update(
        val=metrics_json(fit.val), val_scene=metrics_json(fit.val_scene)
    )
    tmp = model_dir / "head.tmp.npz"
    fit.head.save(tmp)
    tmp.replace(model_dir / "head.npz")
    (model_dir / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return card


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset root (train/, val/)")
    parser.add_argument("--model", type=Path, default=Path("ml/models"))
    parser.add_argument("--work", type=Path, required=True, help="embedding cache folder")
    parser.add_argument("--views", type=int, default=2, help="augmented views per image")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    command = "python -m ml.retrain " + " ".join(sys.argv[1:] if argv is None else argv)
    retrain(args.data, args.model, args.work, args.views, args.seed, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
