"""Runtime classifier with the shipped model: labels, masking, parity, threads, evaluate."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from db.categories import CLASSES, UNTRAINED
from ml.classifier import Classifier
from ml.dataset import Sample
from ml.embeddings import Backbone
from ml.evaluate import evaluate
from ml.head import Head
from ml.image_io import UnsupportedImage, decode_path
from ml.preprocess import preprocess
from ml.retrain import ViewEmbedder, load_images
from tests.model_folders import without_second

# Val images the shipped model must get right (checked when the model was trained).
EXPECTED = {
    "val/verre/002de8f2b268d1ab.jpg": "verre",
    "val/electronique/00c2d826b84724be.jpg": "electronique",
    "val/cuir/0298e49164f1d0e5.jpg": "cuir",
    "val/metal/00b839dae01458d8.jpg": "metal",
    "val/bois/00c5ac0133ab521f.jpg": "bois",
    "val/papier/007998663d0167e5.jpg": "papier",
    "val/plastique/006ce586eb3895b1.jpg": "plastique",
    "val/alimentaire/020f18b05094d8a8.jpg": "alimentaire",
    "val/textile/0546cc660754f24c.jpg": "textile",
    "val/pierre/07d0c73e4020f8c4.jpg": "pierre",
    "val/autre/04bce944406c3f65.jpg": "autre",
}

# Real-world wild-v1/val photos (pallets outdoors, used packaging on a cloth) the shipped model
# must get right (checked when the model was trained).
WILD_EXPECTED = {
    "val/bois/05b391edbce9d78e.jpg": "bois",
    "val/bois/0cd3c272bf7765c5.jpg": "bois",
    "val/carton/00a3e069002555e6.jpg": "carton",
    "val/carton/072a821c220647db.jpg": "carton",
    "val/carton/08c638c13e870398.jpg": "carton",
    "val/metal/109678518b306614.jpg": "metal",
    "val/metal/11141e68b51360cf.jpg": "metal",
    "val/metal/140e5a0159509b03.jpg": "metal",
    "val/plastique/0c0dfece16255982.jpg": "plastique",
    "val/plastique/105d3c6a435beb0e.jpg": "plastique",
    "val/plastique/1928de49995be999.jpg": "plastique",
}


@pytest.fixture(scope="module")
def classifier(model_dir: Path) -> Classifier:
    return Classifier.load(model_dir)


def _val_files(dataset_dir: Path, per_class: int = 2) -> list[Path]:
    return [
        p
        for c in CLASSES
        if (dataset_dir / "val" / c).is_dir()
        for p in sorted((dataset_dir / "val" / c).glob("*.jpg"))[:per_class]
    ]


def test_known_val_images(classifier: Classifier, dataset_dir: Path) -> None:
    for rel, label in EXPECTED.items():
        pred = classifier.classify_path(dataset_dir / rel)
        assert pred.label == label, rel
        assert pred.top[0] == (pred.label, pred.confidence)
        assert len(pred.top) == 3
        assert 0.0 < pred.confidence <= 1.0


def test_probabilities_are_what_the_answer_is_made_of(
    classifier: Classifier, dataset_dir: Path
) -> None:
    path = dataset_dir / next(iter(EXPECTED))
    proba = classifier.probabilities(preprocess(decode_path(path)))
    pred = classifier.classify_path(path)
    assert proba.shape == (len(classifier.classes),)
    assert abs(float(proba.sum()) - 1.0) < 1e-5
    assert classifier.classes[int(proba.argmax())] == pred.label
    assert abs(float(proba.max()) - pred.confidence) < 1e-6


def test_known_real_world_photos(classifier: Classifier, wild_dir: Path) -> None:
    assert {label for label in WILD_EXPECTED.values()} >= {"bois", "carton", "metal", "plastique"}
    for rel, label in WILD_EXPECTED.items():
        assert classifier.classify_path(wild_dir / rel).label == label, rel


def test_model_card(classifier: Classifier) -> None:
    card = classifier.model_card
    assert card["metrics"]["wild-v1/val"]["n"] == 419
    assert card["head"]["train_splits"] == ["waste-v1/train", "wild-v1/train"]
    assert "selection" in card
    assert list(classifier.classes) == list(CLASSES)
    assert set(card["untrained_classes"]) == UNTRAINED
    assert classifier.version == card["version"]


def test_untrained_class_never_predicted(
    model_dir: Path, dataset_dir: Path, tmp_path: Path
) -> None:
    """Even a head that strongly favours dechets_verts cannot predict it."""
    for name in ("backbone.tflite", "model.json"):
        shutil.copy(model_dir / name, tmp_path / name)
    without_second(tmp_path)
    head = Head.load(model_dir / "head.npz")
    bias = head.b.copy()
    bias[CLASSES.index("dechets_verts")] = 1e4
    Head(head.W, bias, head.mean, head.scale, np.ones(len(CLASSES), bool)).save(
        tmp_path / "head.npz"
    )
    clf = Classifier.load(tmp_path)
    for path in _val_files(dataset_dir, 1):
        pred = clf.classify_path(path)
        assert pred.label not in UNTRAINED
        assert all(label not in UNTRAINED or p == 0.0 for label, p in pred.top)


def test_training_and_runtime_preprocessing_match(
    classifier: Classifier,
    model_dir: Path,
    dataset_dir: Path,
    wild_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fine-tuning inputs (``ml.train`` preprocesses ``load_images``), the head's cached
    embeddings (``ViewEmbedder.plain``) and the runtime classifier see the same pixels, also
    for real-world photos large enough for the JPEG decoder to downscale them."""
    seen: list[np.ndarray] = []
    original = Backbone.embed

    def spy(self: Backbone, image: np.ndarray) -> np.ndarray:
        if self.path == model_dir / "backbone.tflite":  # not a second model's
            seen.append(np.asarray(image).copy())
        return original(self, image)

    monkeypatch.setattr(Backbone, "embed", spy)
    large = [p for p in sorted((wild_dir / "val").glob("*/*.jpg")) if _min_side(p) >= 448]
    paths = [*_val_files(dataset_dir, 1)[:3], large[0]]
    ViewEmbedder(model_dir / "backbone.tflite", tmp_path, {p: decode_path(p) for p in paths}).plain(
        paths
    )
    training = seen[:]
    seen.clear()
    for p in paths:
        classifier.classify_path(p)
    assert len(training) == len(seen) == len(paths)
    for a, b in zip(training, seen, strict=True):
        assert a.dtype == b.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(seen[0], preprocess(decode_path(paths[0])))
    fine_tuning = [
        preprocess(image) for image in load_images([Sample(p, 0) for p in paths]).values()
    ]
    for a, b in zip(fine_tuning, seen, strict=True):
        np.testing.assert_array_equal(a, b)
    assert min(decode_path(paths[-1]).size) < _min_side(paths[-1])  # decoded at reduced scale


def _min_side(path: Path) -> int:
    with Image.open(path) as image:
        return min(image.size)


def test_bad_bytes_raise(classifier: Classifier) -> None:
    with pytest.raises(UnsupportedImage):
        classifier.classify_bytes(b"not an image")


def test_threads_and_reload(
    classifier: Classifier, model_dir: Path, dataset_dir: Path, tmp_path: Path
) -> None:
    paths = _val_files(dataset_dir, 1)
    expected = [classifier.classify_path(p) for p in paths]
    clf = Classifier.load(model_dir)
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    card = json.loads((copy / "model.json").read_text())
    card["version"] = "reloaded"
    (copy / "model.json").write_text(json.dumps(card))
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(clf.classify_path, p) for p in paths * 3]
        clf.reload(copy)
        results = [f.result() for f in futures]
    assert clf.version == "reloaded"
    for got, want in zip(results, expected * 3, strict=True):
        assert got.label == want.label
        assert got.confidence == pytest.approx(want.confidence, abs=1e-6)


def test_evaluate_on_folder(classifier: Classifier, dataset_dir: Path, tmp_path: Path) -> None:
    for path in _val_files(dataset_dir, 2):
        target = tmp_path / path.parent.name / path.name
        target.parent.mkdir(exist_ok=True)
        target.symlink_to(path)
    (tmp_path / "verre" / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    calls: list[tuple[int, int]] = []
    report = evaluate(classifier, tmp_path, progress=lambda i, n: calls.append((i, n)))
    total = len(_val_files(dataset_dir, 2))
    assert report.n == total
    assert len(report.skipped) == 1
    assert calls[-1] == (total + 1, total + 1)
    assert 0.0 <= report.accuracy <= 1.0
    assert sum(map(sum, report.confusion)) == total
    assert report.to_dict()["model_version"] == classifier.version
