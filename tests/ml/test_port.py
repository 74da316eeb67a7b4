"""EfficientNet-Lite0 Keras port vs the PyTorch reference (tests/ml/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml.image_io import decode_path
from ml.preprocess import preprocess

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("train_extra")]
REFERENCE = Path(__file__).parent / "data" / "imagenet_reference.json"


def test_state_dict_read_without_torch() -> None:
    from ml.torch_weights import lite0_checkpoint_path, load_state_dict

    state = load_state_dict(lite0_checkpoint_path())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_conv_head.weight"].shape == (1280, 320, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert sum(k.endswith("_depthwise_conv.weight") for k in state) == 16
    assert all(v.dtype == np.float32 for k, v in state.items() if "num_batches" not in k)


def test_imagenet_logits_match_reference(dataset_dir: Path) -> None:
    from ml.efficientnet_lite import pretrained_imagenet_classifier

    cases = json.loads(REFERENCE.read_text())["cases"]
    batch = np.stack([preprocess(decode_path(dataset_dir / c["image"])) for c in cases])
    logits = np.asarray(pretrained_imagenet_classifier()(batch.astype(np.float32)))
    for case, row in zip(cases, logits, strict=True):
        assert np.argsort(-row)[:5].tolist() == case["top5"], case["image"]
        np.testing.assert_allclose(row[case["top5"]], case["logits"], atol=1e-3)
