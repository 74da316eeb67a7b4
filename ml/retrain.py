"""Fit the numpy head on cached embeddings of a TFLite backbone (no TensorFlow).

``ml.train`` calls :func:`fit_head` for the shipped head; :func:`retrain` re-runs it for an
existing model folder (e.g. after the dataset grew) and rewrites ``head.npz`` and the
metrics of ``model.json``. With the same data, backbone and settings both produce the
same head.

Usage: ``python -m ml.retrain --data DIR --model ml/models --work DIR``
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import numpy as np
from PIL import Image

from db.categories import CLASSES, UNTRAINED
from ml.augment import AUGMENT_VERSION, augment, scene_view
from ml.dataset import Sample, class_counts, list_split
from ml.embeddings import Backbone, EmbeddingCache, file_sha256
from ml.head import L2, LABEL_SMOOTHING, Head, balanced_class_weight, train_head
from ml.image_io import decode_path
from ml.metrics import Metrics, compute_metrics
from ml.preprocess import INPUT_SIZE, preprocess

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


Loader = Callable[[Path], Image.Image]
"""Decodes one image file (e.g. :func:`ml.image_io.decode_path`)."""
DECODE_CACHE = 64
"""Decoded images a :class:`ViewEmbedder` keeps (its loader is called again for others)."""
BACKGROUNDS = 128
"""Images in a bounded background pool (:func:`background_sample`)."""


class LazyImages(Sequence[Image.Image]):
    """The images of ``paths``, decoded by ``load`` only when accessed."""

    def __init__(self, paths: Sequence[Path], load: Loader) -> None:
        self.paths = list(paths)
        self.load = load

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> Image.Image: ...

    @overload
    def __getitem__(self, index: slice) -> list[Image.Image]: ...

    def __getitem__(self, index: int | slice) -> Image.Image | list[Image.Image]:
        if isinstance(index, slice):
            return [self.load(p) for p in self.paths[index]]
        return self.load(self.paths[index])


def background_sample(paths: Sequence[Path], k: int = BACKGROUNDS, seed: int = 0) -> list[Path]:
    """A deterministic sample of at most ``k`` of ``paths`` (depends only on the set)."""
    ordered = sorted(set(paths))
    if len(ordered) <= k:
        return ordered
    idx = np.random.default_rng(seed).choice(len(ordered), k, replace=False)
    return [ordered[i] for i in sorted(idx)]


class ViewEmbedder:
    """Embeds dataset images with a TFLite backbone, through the embedding cache.

    ``images`` is a ``{path: decoded image}`` mapping or a loader called (through a small
    cache) only for images whose embedding is not cached yet. A loader error listed in
    ``unreadable`` gives a row of NaN (cached too); ``interrupt`` is called before each
    embedding (it may raise to stop); ``chunk`` files are embedded between cache writes.
    """

    def __init__(
        self,
        tflite: Path,
        cache_root: Path,
        images: Mapping[Path, Image.Image] | Loader = decode_path,
        *,
        unreadable: tuple[type[Exception], ...] = (),
        interrupt: Callable[[], None] | None = None,
        chunk: int | None = None,
    ) -> None:
        self.backbone = Backbone(tflite, num_threads=2)
        self.cache = EmbeddingCache(cache_root, self.backbone.id)
        self.load: Loader = (
            images.__getitem__
            if isinstance(images, Mapping)
            else functools.lru_cache(maxsize=DECODE_CACHE)(images)
        )
        self.unreadable = unreadable
        self.interrupt = interrupt
        self.chunk = chunk
        self._blank: np.ndarray | None = None

    def _nan_row(self) -> np.ndarray:
        if self._blank is None:
            zeros = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.float32)
            self._blank = np.full_like(self.backbone.embed(zeros), np.nan)
        return self._blank

    def _run(self, paths: list[Path], make: Callable[[Path], np.ndarray]) -> np.ndarray:
        total = len(paths)
        rows: list[np.ndarray | None] = []
        for i, path in enumerate(paths, 1):
            if self.interrupt is not None:
                self.interrupt()
            try:
                image = make(path)
            except self.unreadable:
                rows.append(None)
            else:
                rows.append(self.backbone.embed(image))
            if i % 2000 == 0 or i == total:
                log(f"    embedded {i}/{total}")
        if not rows:
            return np.zeros((0, 1280), np.float32)
        return np.stack([self._nan_row() if r is None else r for r in rows])

    def view(
        self, key: str, paths: list[Path], make: Callable[[Image.Image], np.ndarray]
    ) -> np.ndarray:
        """Embeddings of ``make(decoded image)`` for each file, cached under ``key`` (which
        must name everything ``make`` depends on)."""
        return self._cached(key, paths, lambda p: make(self.load(p)))

    def _cached(
        self, key: str, paths: list[Path], make: Callable[[Path], np.ndarray]
    ) -> np.ndarray:
        return self.cache.get_or_compute(key, paths, lambda ps: self._run(ps, make), self.chunk)

    def plain(self, paths: list[Path]) -> np.ndarray:
        """Embeddings of the runtime preprocessing of each file."""
        return self.view("plain", paths, preprocess)

    def augmented(
        self, paths: list[Path], view: int, seed: int, backgrounds: Sequence[Path] | None = None
    ) -> np.ndarray:
        """One deterministic augmented view per file.

        Photo backgrounds are drawn from ``paths`` (decoded on demand), or from the bounded
        pool ``backgrounds`` (decoded once, only if a view must be computed; unreadable
        files skipped), which is then part of the cache key.
        """
        key = f"aug{view}_seed{seed}_a{AUGMENT_VERSION}"
        others: Sequence[Image.Image] = LazyImages(paths, self.load)
        pool: list[Image.Image] | None = None
        if backgrounds is not None:
            digest = hashlib.sha256(
                "\n".join(file_sha256(p) for p in backgrounds).encode()
            ).hexdigest()
            key += f"_bg{digest[:12]}"

        def make(p: Path) -> np.ndarray:
            nonlocal pool, others
            if backgrounds is not None and pool is None:
                pool = self._readable(backgrounds)
                others = pool
            rng = np.random.default_rng([seed, view, int(file_sha256(p, 12), 16)])
            return augment(self.load(p), rng, others)

        return self._cached(key, paths, make)

    def _readable(self, paths: Sequence[Path]) -> list[Image.Image]:
        images = []
        for path in paths:
            try:
                images.append(self.load(path))
            except self.unreadable:
                continue
        return images

    def scene(self, paths: list[Path]) -> np.ndarray:
        """Embeddings of the deterministic val-scene composites of ``paths``
        (item ``paths[i]`` composited with seed ``SCENE_SEED + i``)."""
        others = LazyImages(paths, self.load)
        index = {p: i for i, p in enumerate(paths)}

        def make(p: Path) -> np.ndarray:
            return scene_view(self.load(p), SCENE_SEED + index[p], others)

        key = f"scene{SCENE_SEED}_n{len(paths)}_a{AUGMENT_VERSION}"
        return self._cached(key, paths, make)


def train_on_views(
    emb: ViewEmbedder,
    paths: list[Path],
    y: np.ndarray,
    trained: np.ndarray,
    views: int,
    seed: int,
    backgrounds: Sequence[Path] | None = None,
    weights: np.ndarray | None = None,
) -> Head:
    """A head fitted on plain + ``views`` augmented embeddings of ``paths`` (the same views for
    every image), class-weighted on the images of the ``trained`` classes; ``weights`` (one
    per image, e.g. a domain weight) scale images within their class."""
    X = [emb.plain(paths)] + [emb.augmented(paths, v, seed, backgrounds) for v in range(views)]
    w = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
    keep = trained[y]
    return train_head(
        np.concatenate(X),
        np.tile(y, len(X)),
        balanced_class_weight(y[keep], len(CLASSES), w[keep]),
        trained,
        sample_weight=np.tile(w, len(X)),
    )


@dataclass(frozen=True)
class HeadFit:
    """A fitted head and its metrics on val, val-scene and the extra val splits."""

    head: Head
    val: Metrics
    val_scene: Metrics
    extra_val: dict[str, Metrics]


def _score(head: Head, x: np.ndarray, samples: Sequence[Sample]) -> Metrics:
    y = np.array([s.label for s in samples])
    return compute_metrics(y, head.predict_proba(x).argmax(1), len(CLASSES))


def fit_head(
    emb: ViewEmbedder,
    train: list[Sample],
    val: list[Sample],
    views: int,
    seed: int,
    extra_val: Mapping[str, list[Sample]] | None = None,
) -> HeadFit:
    """Fit the head on plain + ``views`` augmented embeddings of ``train``; score on val,
    val-scene and each named ``extra_val`` split."""
    y = np.array([s.label for s in train])
    head = train_on_views(emb, [s.path for s in train], y, TRAINED, views, seed)
    val_paths = [s.path for s in val]
    extra = {
        name: _score(head, emb.plain([s.path for s in samples]), samples)
        for name, samples in (extra_val or {}).items()
    }
    return HeadFit(
        head,
        _score(head, emb.plain(val_paths), val),
        _score(head, emb.scene(val_paths), val),
        extra,
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
        **({} if m.log_loss is None else {"log_loss": round(m.log_loss, 4)}),
    }


def retrain(
    data_dir: Path,
    model_dir: Path,
    work_dir: Path,
    views: int = 2,
    seed: int = 1234,
    command: str = "",
    limit: int | None = None,
    extra: Path | None = None,
    images: Mapping[Path, Image.Image] | None = None,
) -> dict[str, Any]:
    """Refit ``model_dir/head.npz`` on ``data_dir`` (and the train split of the real-world
    dataset ``extra``, whose val split is reported too) with the model's own backbone and
    update ``model.json`` (version, head, dataset counts, metrics). ``images`` are already
    decoded images (the others are decoded on demand)."""
    model_dir = Path(model_dir)
    card: dict[str, Any] = json.loads((model_dir / "model.json").read_text())
    if list(card["classes"]) != list(CLASSES):
        raise ValueError("model.json classes differ from ml.dataset.CLASSES")
    train_s, val_s = load_splits(data_dir, limit, seed)
    extra_train: list[Sample] = []
    extra_val: dict[str, list[Sample]] = {}
    if extra is not None:
        extra_train, extra_val_s = load_splits(Path(extra), limit, seed)
        extra_val[f"{Path(extra).name}/val"] = extra_val_s
    log(f"{len(train_s)} + {len(extra_train)} train / {len(val_s)} val images")
    loader: Mapping[Path, Image.Image] | Loader = decode_path
    if images is not None:
        known = images
        loader = lambda p: known[p] if p in known else decode_path(p)  # noqa: E731
    emb = ViewEmbedder(model_dir / "backbone.tflite", Path(work_dir) / "embeddings", loader)
    fit = fit_head(emb, [*train_s, *extra_train], val_s, views, seed, extra_val)
    log(
        f"val {fit.val.accuracy:.4f} macro-F1 {fit.val.macro_f1:.4f} "
        f"val-scene {fit.val_scene.accuracy:.4f} "
        + " ".join(f"{k} {m.accuracy:.4f}" for k, m in fit.extra_val.items())
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
        "train_splits": [f"{Path(data_dir).name}/train"]
        + ([f"{Path(extra).name}/train"] if extra is not None else []),
        "fitted": created.isoformat(timespec="seconds"),
        "command": command,
    }
    card.setdefault("dataset", {}).update(
        path=str(data_dir),
        limit=limit,
        train_counts=class_counts(train_s),
        val_counts=class_counts(val_s),
    )
    if extra is not None:
        card["dataset"]["extra"] = {
            "path": str(extra),
            "train_counts": class_counts(extra_train),
            "val_counts": class_counts(next(iter(extra_val.values()))),
        }
    card.setdefault("metrics", {}).update(
        val=metrics_json(fit.val),
        val_scene=metrics_json(fit.val_scene),
        **{name: metrics_json(m) for name, m in fit.extra_val.items()},
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
    parser.add_argument("--extra", type=Path, default=None, help="real-world dataset root")
    args = parser.parse_args(argv)
    command = "python -m ml.retrain " + " ".join(sys.argv[1:] if argv is None else argv)
    retrain(args.data, args.model, args.work, args.views, args.seed, command, extra=args.extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
