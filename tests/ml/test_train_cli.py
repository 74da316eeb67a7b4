"""``dumpin train`` end to end on a handful of images, then ``dumpin evaluate`` on its output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ml.conftest import small_dataset
from tests.test_cli import run_cli

pytestmark = pytest.mark.train


def _train(tmp_path: Path, dataset_dir: Path, *options: str) -> dict[str, Any]:
    """``dumpin train`` on 26 images of ``dataset_dir`` into ``tmp_path / "out"``; its card."""
    pytest.importorskip("tensorflow")
    out, work = tmp_path / "out", tmp_path / "work"
    result = run_cli(
        "train",
        *("--data", str(dataset_dir), "--out", str(out), "--work", str(work), "--limit", "26"),
        *options,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    card: dict[str, Any] = json.loads((out / "model.json").read_text())
    return card


def test_train_smoke_run_produces_a_usable_model(
    tmp_path: Path, dataset_dir: Path, model_dir: Path
) -> None:
    """A one-epoch run distilled from the shipped model, then evaluated."""
    card = _train(
        tmp_path, dataset_dir, "--epochs", "1", "--views", "1", "--teacher", str(model_dir)
    )
    assert card["training_command"].startswith("dumpin train --data")
    assert "dechets_verts" in card["untrained_classes"]
    shipped = json.loads((model_dir / "model.json").read_text())["version"]
    assert card["fine_tuning"]["teacher_versions"] == [shipped]
    assert card["fine_tuning"]["teacher_weight"] == 0.5
    out, val = tmp_path / "out", small_dataset(dataset_dir, tmp_path / "small", 0, 4) / "val"
    evaluated = run_cli("evaluate", str(val), "--model", str(out), "--json")
    assert evaluated.returncode == 0
    assert json.loads(evaluated.stdout)["n"] == len(list(val.glob("*/*")))


def test_refit_on_all_train_photos_keeps_the_last_epoch(tmp_path: Path, dataset_dir: Path) -> None:
    """``--refit-all`` holds no selection subset out: every train photo trains, the last epoch
    is kept and the card says nothing was chosen."""
    card = _train(tmp_path, dataset_dir, "--epochs", "1", "--views", "0", "--refit-all")
    assert card["fine_tuning"]["hold_out"] is False
    assert [h["epoch"] for h in card["fine_tuning"]["history"]] == [0, 1]
    assert card["fine_tuning"]["chosen"] == {"epoch": 1}  # not the frozen features of epoch 0
    assert card["selection"]["chosen_by"].startswith("none")
    assert card["selection"]["subsets"] == {}
    assert card["backbone"]["quantisation"] == "int8"
