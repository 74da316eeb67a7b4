"""EfficientNet-Lite0 and Lite1 Keras ports vs the PyTorch reference (tests/ml/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml.image_io import decode_path
from ml.lite_arch import num_blocks
from ml.make_reference import reference_file
from ml.preprocess import preprocess

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("train_extra")]
VARIANTS = ("lite0", "lite1")


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_read_without_torch(variant: str) -> None:
    from ml.torch_weights import checkpoint_path, load_state_dict

    state = load_state_dict(checkpoint_path(variant))
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_conv_head.weight"].shape == (1280, 320, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    depthwise = sum(k.endswith("_depthwise_conv.weight") for k in state)
    assert depthwise == num_blocks(variant) == {"lite0": 16, "lite1": 21}[variant]
    assert all(v.dtype == np.float32 for k, v in state.items() if "num_batches" not in k)


@pytest.mark.parametrize("variant", VARIANTS)
def test_imagenet_logits_match_reference(dataset_dir: Path, variant: str) -> None:
    from ml.efficientnet_lite import pretrained_imagenet_classifier

    cases = json.loads(reference_file(variant).read_text())["cases"]
    batch = np.stack([preprocess(decode_path(dataset_dir / c["image"])) for c in cases])
    logits = np.asarray(pretrained_imagenet_classifier(variant)(batch.astype(np.float32)))
    for case, row in zip(cases, logits, strict=True):
        assert np.argsort(-row)[:5].tolist() == case["top5"], case["image"]
        np.testing.assert_allclose(row[case["top5"]], case["logits"], atol=1e-3)
