"""Model folders for tests, built from the shipped one: alone, leaning, or paired."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from db.categories import CLASSES
from ml.head import Head
from ml.memory import EXEMPLARS_FILE
from ml.second_model import install
from ml.second_opinion import CARD_KEY, SecondOpinion


def single_model(shipped: Path, target: Path, version: str) -> Path:
    """The shipped model's own files (memory included) under another version, with no second
    opinion."""
    target.mkdir(parents=True)
    os.link(shipped / "backbone.tflite", target / "backbone.tflite")
    for name in ("head.npz", EXEMPLARS_FILE):  # copies: a test may change them
        shutil.copyfile(shipped / name, target / name)
    card = json.loads((shipped / "model.json").read_text())
    (target / "model.json").write_text(json.dumps({**card, "version": version}))
    return without_second(target)


def leaning_model(shipped: Path, target: Path, label: str) -> Path:
    """The shipped backbone with a head that answers ``label`` at 0.996 whatever the
    photo, and no memory."""
    single_model(shipped, target, f"leaning-{label}")
    (target / EXEMPLARS_FILE).unlink()
    head = Head.load(shipped / "head.npz")
    bias = np.where(np.array(CLASSES) == label, 8.0, 0.0).astype(np.float32)
    Head(np.zeros_like(head.W), bias, head.mean, head.scale, np.ones(len(CLASSES), bool)).save(
        target / "head.npz"
    )
    return target


def without_second(model_dir: Path) -> Path:
    """``model_dir``'s card without a second opinion (a copy made without the second model)."""
    card = json.loads((model_dir / "model.json").read_text())
    card.pop(CARD_KEY, None)
    (model_dir / "model.json").write_text(json.dumps(card))
    return model_dir


def paired(first: Path, second: Path, below: float, weight: float = 0.5) -> Path:
    """``first``, given ``second`` as its second opinion."""
    install(first, second, SecondOpinion(below, weight), {})
    return first
