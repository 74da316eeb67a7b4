"""``dumpin retrain``: a new numpy head on base + harvested data, compared with the active
model on the same test set, promoted only when it is at least as good."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import DumpinError
from bot.settings import Settings
from db.categories import CLASSES
from db.models import HeldOutSample, Model, TrainingSample
from ml.augment import AUGMENT_VERSION
from ml.dataset import list_split
from ml.head import L2, LABEL_SMOOTHING, Head
from ml.image_io import UnsupportedImage, decode_path
from ml.memory import EXEMPLARS_FILE
from ml.metrics import Metrics, compute_metrics
from ml.registry import CANDIDATE, ensure_active, new_samples, promote, read_card
from ml.retrain import ViewEmbedder, background_sample, metrics_json, train_on_views

MIN_TRAIN_PER_CLASS = 5
"""A class is learnable with this many training images and at least one test image."""
MAX_ACCURACY_DROP = 0.005
MAX_RECALL_DROP = 0.15
TRAIN_VIEWS, SEED = 3, 1234
"""Plain + augmented views per training image and their seed when the active model's card
does not say (its ``head.train_views`` / ``head.seed``, as written by ``ml.retrain``)."""
CHUNK = 2000
"""Files embedded between two cache writes (an interrupted run keeps its progress)."""

log = logging.getLogger(__name__)


class Stopped(DumpinError):
    """The job was asked to stop (SIGTERM) between two steps."""


@dataclass(frozen=True)
class Labelled:
    """An image file and its class index."""

    path: Path
    label: int


@dataclass(frozen=True)
class Fit:
    """A trained candidate head and both models' results on the same test set."""

    head: Head
    candidate: Metrics
    active: Metrics
    active_trained: np.ndarray
    train_counts: dict[str, int]
    test_counts: dict[str, int]
    train_views: int = TRAIN_VIEWS
    seed: int = SEED
    backgrounds: int = 0


@dataclass(frozen=True)
class RetrainReport:
    """The recorded candidate and what happened to it."""

    model_id: int
    version: str
    promoted: bool
    reasons: list[str]
    candidate: dict[str, Any]
    active: dict[str, Any]
    active_version: str
    seconds: float
    missing_files: int = 0


def load_head(model_dir: Path, card: dict[str, Any]) -> Head:
    """A model's head with its untrained classes masked, as the runtime classifier does."""
    if tuple(card.get("classes", ())) != CLASSES:
        raise DumpinError(f"{model_dir} does not use the 13 Dumpin classes in order")
    return Head.load(model_dir / "head.npz").masking(CLASSES, card.get("untrained_classes", []))


def verdict(fit: Fit) -> list[str]:
    """Why the candidate must not replace the active model (empty: promote it)."""
    new, old = fit.candidate, fit.active
    reasons = []
    if new.macro_f1 < old.macro_f1 - 1e-9:
        reasons.append(f"macro-F1 {new.macro_f1:.4f} < active {old.macro_f1:.4f}")
    if new.accuracy < old.accuracy - MAX_ACCURACY_DROP:
        reasons.append(f"accuracy {new.accuracy:.4f} < active {old.accuracy:.4f} - 0.005")
    for i, name in enumerate(CLASSES):
        both = fit.head.trained[i] and fit.active_trained[i] and new.support[i] > 0
        if both and new.recall[i] < old.recall[i] - MAX_RECALL_DROP:
            reasons.append(
                f"recall of {name} {new.recall[i]:.2f} < active {old.recall[i]:.2f} - 0.15"
            )
    return reasons


def head_settings(card: dict[str, Any]) -> tuple[int, int]:
    """``(train_views, seed)`` of a model card's head (plain + augmented views per image)."""
    head = card.get("head")
    head = head if isinstance(head, dict) else {}
    views, seed = head.get("train_views", TRAIN_VIEWS), head.get("seed", SEED)
    if not isinstance(views, int) or isinstance(views, bool) or views < 1:
        views = TRAIN_VIEWS
    if not isinstance(seed, int) or isinstance(seed, bool):
        seed = SEED
    return views, seed


def fit_candidate(
    active_dir: Path,
    train: list[Labelled],
    test: list[Labelled],
    cache_root: Path,
    stop: threading.Event | None = None,
    backgrounds: list[Path] | None = None,
) -> Fit:
    """Embed (cached), train a class-weighted head as ``ml.retrain`` trains the shipped one
    (plain + the active card's number of augmented views, same seed), then evaluate it and
    the active head on the plain views of ``test`` (blocking).

    Augmentation backgrounds come from ``backgrounds`` (default: a bounded sample of
    ``train``); unreadable images are left out.
    """
    card = read_card(active_dir)
    active_head = load_head(active_dir, card)
    train_views, seed = head_settings(card)

    def interrupt() -> None:
        if stop is not None and stop.is_set():
            raise Stopped("stopped while computing embeddings")

    emb = ViewEmbedder(
        active_dir / "backbone.tflite",
        cache_root,
        decode_path,
        unreadable=(UnsupportedImage,),
        interrupt=interrupt,
        chunk=CHUNK,
    )
    x = emb.plain([s.path for s in train])
    x_test = emb.plain([s.path for s in test])
    readable, readable_test = ~np.isnan(x).any(axis=1), ~np.isnan(x_test).any(axis=1)
    train = [s for s, ok in zip(train, readable, strict=True) if ok]
    y = np.array([s.label for s in train], int)
    x_test = x_test[readable_test]
    y_test = np.array([s.label for s, ok in zip(test, readable_test, strict=True) if ok], int)
    counts = np.bincount(y, minlength=len(CLASSES))
    test_counts = np.bincount(y_test, minlength=len(CLASSES))
    trained = (counts >= MIN_TRAIN_PER_CLASS) & (test_counts > 0)
    if trained.sum() < 2:
        raise DumpinError("fewer than two classes have enough training and test images")
    paths = [s.path for s in train]
    pool = background_sample(paths if backgrounds is None else backgrounds)
    head = train_on_views(emb, paths, y, trained, train_views - 1, seed, pool)
    return Fit(
        head=head,
        candidate=compute_metrics(y_test, head.predict_proba(x_test).argmax(1), len(CLASSES)),
        active=compute_metrics(y_test, active_head.predict_proba(x_test).argmax(1), len(CLASSES)),
        active_trained=active_head.trained,
        train_counts=dict(zip(CLASSES, counts.tolist(), strict=True)),
        test_counts=dict(zip(CLASSES, test_counts.tolist(), strict=True)),
        train_views=train_views,
        seed=seed,
        backgrounds=len(pool),
    )


def write_model_dir(models_root: Path, active_dir: Path, fit: Fit, base: Path) -> Path:
    """``<models root>/<version>/``: the active backbone (hard link or copy), the new head and
    its card, written under a temporary name and renamed."""
    parent = read_card(active_dir)
    created = datetime.now(UTC)
    backbone_id = str(parent.get("backbone", {}).get("id", "")) or "backbone"
    version = f"{created:%Y%m%d.%H%M%S}-{backbone_id[:8]}"
    suffix = 1
    while (models_root / version).exists():  # two runs in the same second
        suffix += 1
        version = f"{created:%Y%m%d.%H%M%S}-{backbone_id[:8]}-{suffix}"
    card = {
        key: value
        for key, value in parent.items()
        if key not in {"fine_tuning", "training_command", "training_minutes", "metrics", "dataset"}
    }
    card.update(
        version=version,
        created=created.isoformat(timespec="seconds"),
        parent=parent.get("version"),
        trained_classes=[c for i, c in enumerate(CLASSES) if fit.head.trained[i]],
        untrained_classes=[c for i, c in enumerate(CLASSES) if not fit.head.trained[i]],
        head={
            "type": "softmax regression (numpy, ml.head), dumpin retrain",
            "train_views": fit.train_views,
            "l2": L2,
            "label_smoothing": LABEL_SMOOTHING,
            "augment_version": AUGMENT_VERSION,
            "seed": fit.seed,
            "augment_backgrounds": fit.backgrounds,
            "embedding_dim": int(fit.head.W.shape[0]),
            "class_weights": "balanced",
        },
        dataset={
            "base": str(base),
            "harvested": "training_dataset / test_dataset (source user)",
            "train_counts": fit.train_counts,
            "test_counts": fit.test_counts,
        },
        metrics={"test": metrics_json(fit.candidate)},
    )
    if "memory" in parent:  # its figures were measured with the parent's head
        card["memory"] = {k: v for k, v in parent["memory"].items() if k != "metrics"}
    target = models_root / version
    partial = models_root / f".{version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        _link_or_copy(active_dir / "backbone.tflite", partial / "backbone.tflite")
        if (active_dir / EXEMPLARS_FILE).exists():  # the memory belongs to the backbone
            _link_or_copy(active_dir / EXEMPLARS_FILE, partial / EXEMPLARS_FILE)
        fit.head.save(partial / "head.npz")
        (partial / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target.resolve()


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


async def _user_samples(
    session: AsyncSession, data_dir: Path
) -> tuple[list[Labelled], list[Labelled], int]:
    """Harvested training and test samples whose files exist, and how many do not (a
    database restored without its media archive)."""
    train = await session.scalars(
        select(TrainingSample).where(
            TrainingSample.source == "user", TrainingSample.subset == "train"
        )
    )
    test = await session.scalars(select(HeldOutSample).where(HeldOutSample.source == "user"))
    found = [
        [Labelled(data_dir / r.path, CLASSES.index(r.label)) for r in rows if r.label in CLASSES]
        for rows in (train, test)
    ]
    present = [[s for s in samples if s.path.is_file()] for samples in found]
    missing = sum(len(a) - len(b) for a, b in zip(found, present, strict=True))
    return present[0], present[1], missing


def _base_samples(base: Path, split: str) -> list[Labelled]:
    try:
        return [Labelled(s.path, s.label) for s in list_split(base, split)]
    except (FileNotFoundError, ValueError) as exc:
        raise DumpinError(f"base dataset {base}: {exc}") from None


async def retrain(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    min_new: int = 0,
    allow_promotion: bool = True,
    stop: threading.Event | None = None,
) -> RetrainReport | None:
    """Train and record a candidate (None when fewer than ``min_new`` samples are new)."""
    started = time.monotonic()
    data_dir = settings.data_dir
    async with sessions() as session:
        if min_new and (count := await new_samples(session)) < min_new:
            log.info("retrain skipped: %d new samples since the last model (< %d)", count, min_new)
            return None
        active = await ensure_active(session, settings.shipped_model_dir)
        user_train, user_test, missing = await _user_samples(session, data_dir)
        await session.commit()
    if missing:
        log.warning("retrain: %d harvested files missing (restored without --media?)", missing)
    active_dir = Path(active.path)
    base_train = _base_samples(settings.base_dataset, "train")
    train = base_train + user_train
    test = _base_samples(settings.base_dataset, "val") + user_test
    log.info(
        "retrain: %d training images (%d harvested), %d test images (%d harvested)",
        len(train),
        len(user_train),
        len(test),
        len(user_test),
    )
    fit = await asyncio.to_thread(
        fit_candidate,
        active_dir,
        train,
        test,
        data_dir / "embeddings",
        stop,
        [s.path for s in base_train] or None,
    )
    model_dir = await asyncio.to_thread(
        write_model_dir, data_dir / "models", active_dir, fit, settings.base_dataset
    )
    reasons = verdict(fit)
    candidate, previous = metrics_json(fit.candidate), metrics_json(fit.active)
    async with sessions() as session:
        current = await session.get(Model, active.id)
        if current is not None and not current.metrics:
            current.metrics = previous
        row = Model(
            version=model_dir.name,
            path=str(model_dir),
            status=CANDIDATE,
            dataset_size=len(train),
            metrics={**candidate, "active_on_same_test": previous, "refused": reasons},
        )
        session.add(row)
        await session.flush()
        promoted = allow_promotion and not reasons
        if promoted:
            await promote(session, row.id)
        await session.commit()
    if promoted:
        log.info(
            "model %s promoted (macro-F1 %.4f vs %.4f)",
            row.version,
            fit.candidate.macro_f1,
            fit.active.macro_f1,
        )
    else:
        log.warning(
            "model %s stays a candidate: %s",
            row.version,
            "; ".join(reasons) or "promotion disabled",
        )
    return RetrainReport(
        row.id,
        row.version,
        promoted,
        reasons,
        candidate,
        previous,
        active.version,
        time.monotonic() - started,
        missing,
    )
