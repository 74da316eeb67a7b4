"""``python -m ml.exemplars`` on small copies of the datasets: it chooses the head's temperature
and the blend on the selection subsets, then writes the memory, the tempered head and the card."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ml.exemplars import main
from ml.head import Head
from ml.head_calibration import HEAD_TEMPERATURES
from ml.memory import EXEMPLARS_FILE, Exemplars
from tests.ml.conftest import small_dataset
from tests.model_folders import without_second


def test_exemplars_choose_the_temperature_and_write_the_model(
    tmp_path: Path, dataset_dir: Path, wild_dir: Path, model_dir: Path
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    os.link(model_dir / "backbone.tflite", model / "backbone.tflite")
    for name in ("head.npz", "model.json"):
        shutil.copyfile(model_dir / name, model / name)
    without_second(model)
    waste = small_dataset(dataset_dir, tmp_path / "waste", 20, 4)
    wild = small_dataset(wild_dir, tmp_path / "wild", 12, 3)

    args = ["--model", str(model), "--waste", str(waste), "--wild", str(wild)]
    assert main([*args, "--work", str(tmp_path / "work")]) == 0

    card = json.loads((model / "model.json").read_text())
    temperature = card["head"]["temperature"]
    assert temperature in HEAD_TEMPERATURES
    assert Head.load(model / "head.npz").temperature == temperature
    rows = card["head"]["temperature_chosen"]["rows"]
    assert [r["temperature"] for r in rows] == list(HEAD_TEMPERATURES)
    assert all(r["waste-v1 selection"]["sure"] >= r["waste-v1 selection"]["right"] for r in rows)
    exemplars = Exemplars.load(model / EXEMPLARS_FILE)
    trained_on = len([*(waste / "train").glob("*/*"), *(wild / "train").glob("*/*")])
    assert len(exemplars.labels) == card["memory"]["exemplars"] == trained_on
    assert card["memory"]["params"] == exemplars.params.to_dict()
    assert card["memory"]["metrics"]["waste-v1/val"]["with_memory"]["n"] == 12 * 4
    assert card["version"] != json.loads((model_dir / "model.json").read_text())["version"]
