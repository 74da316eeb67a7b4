"""Fixtures for the scheduler tests: a tiny real-image dataset, model folders, settings."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from bot.settings import Settings
from ml.head import Head
from tests.model_folders import without_second

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DUMPIN_DATASET_DIR", REPO.parent / "shared/datasets/waste-v1"))
SHIPPED = REPO / "ml" / "models"
TRAIN_PER_CLASS, TEST_PER_CLASS = 5, 2


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    """The shipped model folder (its backbone is what retraining reuses)."""
    if not (SHIPPED / "backbone.tflite").exists():
        _missing(f"model in {SHIPPED}")
    return SHIPPED


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A waste-v1 shaped dataset: 5 train and 2 val images per class from the shared val
    split, and 7 dechets_verts images (shared train) kept aside in ``extra/``."""
    if not (SHARED / "val").is_dir():
        _missing(f"dataset at {SHARED}")
    root = tmp_path_factory.mktemp("base")
    for folder in sorted((SHARED / "val").iterdir()):
        files = sorted(folder.iterdir())[: TRAIN_PER_CLASS + TEST_PER_CLASS]
        for split, chosen in (("train", files[:TRAIN_PER_CLASS]), ("val", files[TRAIN_PER_CLASS:])):
            (root / split / folder.name).mkdir(parents=True)
            for file in chosen:
                shutil.copyfile(file, root / split / folder.name / file.name)
    (root / "extra").mkdir()
    for file in sorted((SHARED / "train" / "dechets_verts").iterdir())[:7]:
        shutil.copyfile(file, root / "extra" / file.name)
    return root


def model_copy(shipped: Path, target: Path, version: str, head: Head | None = None) -> Path:
    """A model folder with the shipped backbone (and second model, if any), another version
    and optionally another head."""
    target.mkdir(parents=True)
    os.link(shipped / "backbone.tflite", target / "backbone.tflite")
    card = json.loads((shipped / "model.json").read_text())
    card["version"] = version
    (target / "model.json").write_text(json.dumps(card))
    if head is None:
        shutil.copyfile(shipped / "head.npz", target / "head.npz")
    else:
        head.save(target / "head.npz")
    without_second(target)
    return target


def settings_for(
    url: URL, data_dir: Path, base: Path, shipped: Path, extra: Path | None = None, **more: Any
) -> Settings:
    """Settings pointing at a test database, data dir, base dataset and shipped model, and a
    real-world dataset (none by default)."""
    return Settings(
        data_dir=data_dir,
        database_url=SecretStr(url.render_as_string(hide_password=False)),
        base_dataset=base,
        extra_dataset=extra or base / "no-extra-dataset",
        shipped_model_dir=shipped,
        _env_file=None,  # type: ignore[call-arg]
        **more,
    )


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Embeddings shared by the retrains of a session (cached by image content)."""
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture
def retrain_settings(
    migrated_url: URL, tmp_path: Path, tiny_base: Path, shipped_model: Path, embedding_cache: Path
) -> Settings:
    """Settings for a retrain on the tiny dataset, the shipped model and a migrated database;
    embeddings computed once per session."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "embeddings").symlink_to(embedding_cache, target_is_directory=True)
    return settings_for(migrated_url, data_dir, tiny_base, shipped_model)
