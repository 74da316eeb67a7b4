"""The second opinion: a second model, asked only when the first one is not sure enough."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from db.categories import CLASSES
from ml.classifier import Classifier
from ml.image_io import decode_path
from ml.memory import EXEMPLARS_FILE
from ml.preprocess import preprocess
from ml.registry import copy_model
from ml.second_model import BELOW, WEIGHTS, main
from ml.second_opinion import CARD_KEY, SecondOpinion
from tests.ml.conftest import small_dataset
from tests.model_folders import leaning_model, paired, single_model

UNSURE = 0.9
"""The pair's threshold in these tests."""


def _photos(dataset_dir: Path, wild_dir: Path) -> list[np.ndarray]:
    """Three val photos of each class of both datasets, preprocessed."""
    files = [
        file
        for root in (dataset_dir / "val", wild_dir / "val")
        for folder in sorted(root.iterdir())
        for file in sorted(folder.iterdir())[:3]
    ]
    return [preprocess(decode_path(file)) for file in files]


def test_the_rule_mixes_only_the_rows_below_its_threshold() -> None:
    rule = SecondOpinion(below=0.7, weight=0.6)
    first = np.array([[0.9, 0.1, 0.0], [0.5, 0.4, 0.1]], np.float32)
    second = np.array([[0.0, 1.0, 0.0], [0.0, 0.2, 0.8]], np.float32)
    assert rule.asked(first).tolist() == [False, True]
    head = np.array([[0.8, 0.2, 0.0], [0.5, 0.5, 0.0]], np.float32)
    np.testing.assert_allclose(
        rule.combine(head, first, second, lambda p: p / 2), [[0.9, 0.1, 0.0], [0.15, 0.19, 0.16]]
    )


def test_the_second_model_answers_only_when_the_first_is_unsure(
    model_dir: Path, dataset_dir: Path, wild_dir: Path, tmp_path: Path
) -> None:
    # without a memory, whose neighbours would be blended into the mean too
    first_dir, pair_dir = (single_model(model_dir, tmp_path / n, f"{n}-1") for n in ("a", "b"))
    for folder in (first_dir, pair_dir):
        (folder / EXEMPLARS_FILE).unlink()
    alone = Classifier.load(first_dir)
    leaning = leaning_model(model_dir, tmp_path / "leaning", "bois")
    pair = Classifier.load(paired(pair_dir, leaning, UNSURE))
    second = Classifier.load(leaning)
    photos = _photos(dataset_dir, wild_dir)
    unsure = 0
    for array in photos:
        first = alone.probabilities(array)
        answer = pair.probabilities(array)
        assert pair.classify_image(Image.fromarray(array)).second_asked == (first.max() < UNSURE)
        if first.max() >= UNSURE:
            np.testing.assert_array_equal(answer, first)
        else:
            unsure += 1
            np.testing.assert_allclose(answer, (first + second.probabilities(array)) / 2, atol=1e-6)
            assert answer[CLASSES.index("bois")] > 0.49
    assert 0 < unsure < len(photos)  # both cases were seen


def test_the_command_chooses_the_weight_installs_and_reports(
    model_dir: Path, dataset_dir: Path, wild_dir: Path, tmp_path: Path
) -> None:
    first = single_model(model_dir, tmp_path / "first", "first-1")
    twin = single_model(model_dir, tmp_path / "twin", "twin-1")  # every weight ties
    waste = small_dataset(dataset_dir, tmp_path / "waste", 20, 4)
    wild = small_dataset(wild_dir, tmp_path / "wild", 12, 3)
    args = ["--model", str(first), "--second", str(twin), "--work", str(tmp_path / "work")]
    data = ["--waste", str(waste), "--wild", str(wild), "--val", str(wild / "val")]
    assert main([*args, *data]) == 0
    card = json.loads((first / "model.json").read_text())
    entry = card[CARD_KEY]
    assert card["version"] != "first-1"  # the answers changed
    assert (entry["below"], entry["weight"], entry["version"]) == (BELOW, WEIGHTS[0], "twin-1")
    assert [row["weight"] for row in entry["rows"]] == list(WEIGHTS)
    assert len({row["score"] for row in entry["rows"]}) == 1
    assert entry["metrics"]["wild/val"]["n"] == len(list((wild / "val").glob("*/*")))
    # a recorded copy carries the second model along
    copied = Classifier.load(copy_model(first, tmp_path / "models", "first-1"))
    sample = next((wild / "val" / "carton").iterdir())
    assert copied.classify_path(sample) == Classifier.load(first).classify_path(sample)


def test_a_missing_second_model_fails_at_load(model_dir: Path, tmp_path: Path) -> None:
    first = single_model(model_dir, tmp_path / "first", "first-1")
    paired(first, leaning_model(model_dir, tmp_path / "leaning", "bois"), UNSURE)
    (first / "second" / "head.npz").unlink()
    with pytest.raises(FileNotFoundError):
        Classifier.load(first)


def test_threads_share_the_second_model_and_answer_as_one(
    model_dir: Path, dataset_dir: Path, wild_dir: Path, tmp_path: Path
) -> None:
    """The second model has one interpreter for all threads (it answers a share of the
    photos only): concurrent answers are those of one thread."""
    leaning = leaning_model(model_dir, tmp_path / "leaning", "bois")
    pair = Classifier.load(paired(single_model(model_dir, tmp_path / "pair", "p-1"), leaning, 1.01))
    photos = _photos(dataset_dir, wild_dir)
    alone = [pair.probabilities(array) for array in photos]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(pair.probabilities, photos))
    for one, many in zip(alone, together, strict=True):
        np.testing.assert_allclose(many, one, atol=1e-6)
