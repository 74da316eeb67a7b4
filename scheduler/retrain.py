"""``dumpin retrain``: a new numpy head on the base datasets and the harvested users' photos
(weighted more), compared with the active model on the two parts of the fixed test set (base
photos, users' photos) and promoted by the rule of :mod:`ml.gate`, compare-and-swap under the
models lock.

Both models are judged as the bot answers: their head blended with the active model's memory
(its ``exemplars.npz``, which the candidate inherits, and the users' entries of its backbone in
``memory_entries``). Users' entries are train-split photos and the shipped exemplars come from
the train splits, so the memory never saw a test photo."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
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
from locales import N_
from ml.augment import AUGMENT_VERSION
from ml.classifier import Classifier
from ml.dataset import list_split
from ml.gate import Compared, Reason, Verdict, judge
from ml.head import L2, LABEL_SMOOTHING, Head
from ml.image_io import UnsupportedImage, decode_path
from ml.memory import EXEMPLARS_FILE, Exemplars, Memory
from ml.memory_sync import sync
from ml.metrics import Metrics, compute_metrics
from ml.model_folder import SECOND_DIR, model_files
from ml.registry import (
    CANDIDATE,
    active_model,
    ensure_active,
    link_or_copy,
    new_samples,
    read_card,
    swap_active,
)
from ml.retrain import ViewEmbedder, background_sample, metrics_json, train_on_views
from ml.second_opinion import SecondOpinion
from scheduler.lock import models_lock

MIN_TRAIN_PER_CLASS = 5
"""A class is learnable with this many training images and at least one test image."""
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
    """An image file, its class index and whether a user sent it (a harvested photo)."""

    path: Path
    label: int
    user: bool = False


@dataclass(frozen=True)
class Fit:
    """A trained candidate head and both models' results on the same test photos: the base
    ones, the users' ones and all of them, with the memory when there is one
    (``memory_entries``: its users' entries, None without a memory); ``head_alone``: the
    candidate's head without the memory on each part (base, users, whole)."""

    head: Head
    base: Compared
    users: Compared
    whole: Compared
    active_trained: np.ndarray
    train_counts: dict[str, int]
    user_train_counts: dict[str, int]
    train_views: int = TRAIN_VIEWS
    seed: int = SEED
    backgrounds: int = 0
    user_weight: float = 1.0
    head_alone: dict[str, Metrics] | None = None
    memory_entries: int | None = None


@dataclass(frozen=True)
class RetrainReport:
    """The recorded candidate, both models on each part of the test set (``parts``: base,
    users, whole -> candidate / active metrics) and what happened to the candidate."""

    model_id: int
    version: str
    promoted: bool
    judged: bool
    rule: str
    reasons: list[Reason]
    parts: dict[str, dict[str, dict[str, Any]]]
    active_version: str
    seconds: float
    missing_files: int = 0
    memory_entries: int | None = None
    """Users' entries in the memory both models were judged with (None: no memory)."""

    @property
    def candidate(self) -> dict[str, Any]:
        """The candidate's metrics on the whole test set."""
        return self.parts["whole"]["candidate"]

    @property
    def active(self) -> dict[str, Any]:
        """The active model's metrics on the whole test set."""
        return self.parts["whole"]["active"]


def load_head(model_dir: Path, card: dict[str, Any]) -> Head:
    """A model's head with its untrained classes masked, as the runtime classifier does."""
    if tuple(card.get("classes", ())) != CLASSES:
        raise DumpinError(f"{model_dir} does not use the 13 Dumpin classes in order")
    return Head.load(model_dir / "head.npz").masking(CLASSES, card.get("untrained_classes", []))


def verdict(fit: Fit) -> Verdict:
    """The promotion gate's verdict on the candidate (:func:`ml.gate.judge`)."""
    return judge(fit.base, fit.users, fit.whole, fit.head.trained, fit.active_trained)


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


def second_answers(
    model_dir: Path,
    card: dict[str, Any],
    paths: list[Path],
    embedder: Callable[[Path], ViewEmbedder],
) -> tuple[SecondOpinion, np.ndarray] | None:
    """The second opinion's rule and the second model's answers [N, C] (its head and its
    exemplars) on ``paths``, embedded through the cache; None when the model has none."""
    rule = SecondOpinion.from_card(card)
    if rule is None:
        return None
    second_dir = model_dir / SECOND_DIR
    second = Classifier.load(second_dir, memory_capacity=0)
    return rule, second.answer_embeddings(embedder(second_dir).plain(paths))


def fit_candidate(
    active_dir: Path,
    train: list[Labelled],
    test: list[Labelled],
    cache_root: Path,
    stop: threading.Event | None = None,
    backgrounds: list[Path] | None = None,
    user_weight: float = 1.0,
    memory: Memory | None = None,
) -> Fit:
    """Embed (cached), train a class-weighted head as ``ml.retrain`` trains the shipped one
    (plain + the active card's number of augmented views for every image, same seed), each
    user photo weighing ``user_weight`` base photos of its class; then evaluate it and the
    active head on the plain views of ``test``, both blended with ``memory`` as the runtime
    classifier blends it (ignored when built on another backbone) (blocking).

    Augmentation backgrounds come from ``backgrounds`` (default: a bounded sample of
    ``train``); unreadable images are left out.
    """
    card = read_card(active_dir)
    active_head = load_head(active_dir, card)
    train_views, seed = head_settings(card)

    def interrupt() -> None:
        if stop is not None and stop.is_set():
            raise Stopped("stopped while computing embeddings")

    def embedder(model_dir: Path) -> ViewEmbedder:
        return ViewEmbedder(
            model_dir / "backbone.tflite",
            cache_root,
            decode_path,
            unreadable=(UnsupportedImage,),
            interrupt=interrupt,
            chunk=CHUNK,
        )

    emb = embedder(active_dir)
    x = emb.plain([s.path for s in train])
    x_test = emb.plain([s.path for s in test])
    readable, readable_test = ~np.isnan(x).any(axis=1), ~np.isnan(x_test).any(axis=1)
    train = [s for s, ok in zip(train, readable, strict=True) if ok]
    test = [s for s, ok in zip(test, readable_test, strict=True) if ok]
    x_test = x_test[readable_test]
    y = np.array([s.label for s in train], int)
    y_test = np.array([s.label for s in test], int)
    from_user = np.array([s.user for s in train], bool)
    counts = np.bincount(y, minlength=len(CLASSES))
    test_counts = np.bincount(y_test, minlength=len(CLASSES))
    trained = (counts >= MIN_TRAIN_PER_CLASS) & (test_counts > 0)
    if trained.sum() < 2:
        raise DumpinError("fewer than two classes have enough training and test images")
    paths = [s.path for s in train]
    pool = background_sample(paths if backgrounds is None else backgrounds)
    weights = np.where(from_user, user_weight, 1.0)
    head = train_on_views(emb, paths, y, trained, train_views - 1, seed, pool, weights)
    head = head.tempered(active_head.temperature)  # the backbone's calibration (ml.exemplars)
    h_new, h_old = head.predict_proba(x_test), active_head.predict_proba(x_test)
    alone = h_new
    if memory is not None and memory.backbone != emb.backbone.id:
        memory = None  # the runtime classifier has no memory then
    remember = (lambda proba: proba) if memory is None else memory.voter(x_test)
    p_new, p_old = remember(h_new), remember(h_old)
    second = second_answers(active_dir, card, [s.path for s in test], embedder)
    if second is not None:  # both heads are judged with the same second model, as the bot asks it
        rule, p_second = second
        p_new = rule.combine(h_new, p_new, p_second, remember)
        p_old = rule.combine(h_old, p_old, p_second, remember)

    def scored(proba: np.ndarray, mask: np.ndarray) -> Metrics:
        return compute_metrics(y_test[mask], proba[mask].argmax(1), len(CLASSES), proba[mask])

    def compared(mask: np.ndarray) -> Compared:
        return Compared(scored(p_new, mask), scored(p_old, mask))

    users = np.array([s.user for s in test], bool)
    masks = {"base": ~users, "users": users, "whole": np.ones(len(test), bool)}
    return Fit(
        head=head,
        base=compared(masks["base"]),
        users=compared(masks["users"]),
        whole=compared(masks["whole"]),
        active_trained=active_head.trained,
        train_counts=dict(zip(CLASSES, counts.tolist(), strict=True)),
        user_train_counts=dict(
            zip(CLASSES, np.bincount(y[from_user], minlength=len(CLASSES)).tolist(), strict=True)
        ),
        train_views=train_views,
        seed=seed,
        backgrounds=len(pool),
        user_weight=user_weight,
        head_alone={part: scored(alone, mask) for part, mask in masks.items()},
        memory_entries=None if memory is None else len(memory),
    )


PARTS = (("", "whole"), ("_base", "base"), ("_users", "users"))
"""Suffixes of the model card's test figures and the parts of a :class:`Fit` they describe."""


def write_model_dir(
    models_root: Path, active_dir: Path, fit: Fit, datasets: dict[str, str]
) -> Path:
    """``<models root>/<version>/``: the active backbone and memory exemplars (hard link or
    copy), the new head and its card, written under a temporary name and renamed. The card's
    ``metrics`` are the head's alone; ``memory.metrics`` compare them with the head blended
    with the memory, as the gate judged it."""
    parent = read_card(active_dir)
    alone = fit.head_alone or {part: getattr(fit, part).candidate for _, part in PARTS}
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
            "class_weights": "balanced (on weighted counts)",
            "user_photo_weight": fit.user_weight,
            "temperature": fit.head.temperature,
        },
        dataset={
            **datasets,
            "harvested": "training_dataset / test_dataset (source user)",
            "train_counts": fit.train_counts,
            "user_train_counts": fit.user_train_counts,
            "test_counts": {
                part: dict(zip(CLASSES, c.candidate.support, strict=True))
                for part, c in (("base", fit.base), ("users", fit.users))
            },
        },
        metrics={  # the head alone, as in the shipped card
            f"test{suffix}": metrics_json(alone[part]) for suffix, part in PARTS
        },
    )
    if "memory" in parent:  # the parent's figures were measured with the parent's head
        card["memory"] = {k: v for k, v in parent["memory"].items() if k != "metrics"}
        if fit.memory_entries is not None:
            card["memory"]["users_entries"] = fit.memory_entries
            card["memory"]["metrics"] = {
                f"test{suffix}": {
                    "head": metrics_json(alone[part]),
                    "with_memory": metrics_json(getattr(fit, part).candidate),
                }
                for suffix, part in PARTS
            }
    target = models_root / version
    partial = models_root / f".{version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        for name in model_files(active_dir):  # backbone, exemplars and second model: kept
            if name not in {"head.npz", "model.json"}:
                (partial / name).parent.mkdir(exist_ok=True)
                link_or_copy(active_dir / name, partial / name)
        fit.head.save(partial / "head.npz")
        (partial / "model.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target.resolve()


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
        [
            Labelled(data_dir / r.path, CLASSES.index(r.label), user=True)
            for r in rows
            if r.label in CLASSES
        ]
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


def _extra_samples(extra: Path) -> list[Labelled]:
    """The train split of the real-world dataset, when it is there (it is optional)."""
    if not (extra / "train").is_dir():
        log.warning("retrain: no real-world dataset at %s: trained without it", extra)
        return []
    return _base_samples(extra, "train")


async def _memory(
    sessions: async_sessionmaker[AsyncSession], model_dir: Path, capacity: int
) -> Memory | None:
    """A model's memory as the bot holds it: its exemplars and the newest ``capacity`` users'
    entries of their backbone (None when the model has no exemplars)."""
    path = model_dir / EXEMPLARS_FILE
    if not path.exists():
        return None
    memory = Memory(await asyncio.to_thread(Exemplars.load, path), capacity)
    await sync(sessions, memory)
    return memory


CHANGED = N_("the active model changed during the retrain (compared with %(old)s, now %(new)s)")


async def retrain(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    min_new: int = 0,
    allow_promotion: bool = True,
    stop: threading.Event | None = None,
) -> RetrainReport | None:
    """Train and record a candidate (None when fewer than ``min_new`` samples are new); promote
    it when the gate says so and the active model is still the one it was compared with."""
    started = time.monotonic()
    data_dir = settings.data_dir
    async with sessions() as session:
        if min_new and (count := await new_samples(session)) < min_new:
            log.info("retrain skipped: %d new samples since the last model (< %d)", count, min_new)
            return None
        user_train, user_test, missing = await _user_samples(session, data_dir)
    async with models_lock(settings.db_url), sessions() as session:
        active = await ensure_active(session, settings.shipped_model_dir, data_dir / "models")
        await session.commit()
    if missing:
        log.warning("retrain: %d harvested files missing (restored without --media?)", missing)
    active_dir = Path(active.path)
    base_train = _base_samples(settings.base_dataset, "train")
    extra_train = _extra_samples(settings.extra_dataset)
    train = base_train + extra_train + user_train
    test = _base_samples(settings.base_dataset, "val") + user_test
    log.info(
        "retrain: %d training images (%d real-world, %d harvested, weight %g), %d test images "
        "(%d harvested)",
        len(train),
        len(extra_train),
        len(user_train),
        settings.user_photo_weight,
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
        [s.path for s in base_train + extra_train] or None,
        settings.user_photo_weight,
        await _memory(sessions, active_dir, settings.memory_max_entries),
    )
    datasets = {"base": str(settings.base_dataset)}
    if extra_train:
        datasets["extra"] = str(settings.extra_dataset)
    model_dir = await asyncio.to_thread(
        write_model_dir, data_dir / "models", active_dir, fit, datasets
    )
    judged = verdict(fit)
    parts = {
        name: {"candidate": metrics_json(c.candidate), "active": metrics_json(c.active)}
        for name, c in (("base", fit.base), ("users", fit.users), ("whole", fit.whole))
    }
    reasons = judged.reasons
    async with models_lock(settings.db_url), sessions() as session:
        current = await session.get(Model, active.id)
        if current is not None and not current.metrics:
            current.metrics = parts["whole"]["active"]
        row = Model(
            version=model_dir.name,
            path=str(model_dir),
            status=CANDIDATE,
            dataset_size=len(train),
        )
        session.add(row)
        await session.flush()
        promoted = allow_promotion and judged.promote
        if promoted and not await swap_active(session, active.id, row.id):
            promoted = False
            now = await active_model(session)
            reasons = [Reason(CHANGED, {"old": active.version, "new": now.version if now else "-"})]
        row.metrics = {
            **parts["whole"]["candidate"],
            "active_on_same_test": parts["whole"]["active"],
            "compared_with": active.version,
            "parts": {k: v for k, v in parts.items() if k != "whole"},
            "rule": judged.rule,
            "refused": [r.text() for r in reasons],
            "user_photo_weight": settings.user_photo_weight,
            "memory_users_entries": fit.memory_entries,
        }
        await session.commit()
    if promoted:
        log.info("model %s promoted over %s (rule %s)", row.version, active.version, judged.rule)
    else:
        log.warning(
            "model %s stays a candidate: %s",
            row.version,
            "; ".join(r.text() for r in reasons) or "promotion disabled",
        )
    return RetrainReport(
        model_id=row.id,
        version=row.version,
        promoted=promoted,
        judged=allow_promotion,
        rule=judged.rule,
        reasons=reasons,
        parts=parts,
        active_version=active.version,
        seconds=time.monotonic() - started,
        missing_files=missing,
        memory_entries=fit.memory_entries,
    )
