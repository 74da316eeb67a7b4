"""Write ``tests/ml/data/imagenet_reference.json`` with the PyTorch reference model.

Run with a separate venv holding ``torch`` and ``efficientnet-lite-pytorch`` (not a
project dependency)::

    /work/scratch/torchref/bin/python -m ml.make_reference DATASET_DIR CHECKPOINT.pth
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ml.image_io import decode_path
from ml.preprocess import preprocess

IMAGES = (
    "val/verre",
    "val/electronique",
    "val/cuir",
    "val/metal",
)
OUT = Path(__file__).resolve().parent.parent / "tests" / "ml" / "data" / "imagenet_reference.json"


def main(argv: list[str]) -> int:
    """Compute top-5 ImageNet logits of the first image of a few val classes."""
    import torch  # noqa: PLC0415
    from efficientnet_lite_pytorch import EfficientNet  # noqa: PLC0415

    data_dir, checkpoint = Path(argv[0]), Path(argv[1])
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    model.eval()
    cases = []
    for folder in IMAGES:
        path = sorted((data_dir / folder).glob("*.jpg"))[0]
        image = (preprocess(decode_path(path)).astype(np.float32) - 127.0) / 128.0
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        with torch.no_grad():
            logits = np.asarray(model(x)[0].numpy(), np.float64)
        top = np.argsort(-logits)[:5]
        cases.append(
            {
                "image": str(path.relative_to(data_dir)),
                "top5": top.tolist(),
                "logits": [round(float(logits[i]), 6) for i in top],
            }
        )
    model_desc = f"efficientnet-lite0, efficientnet-lite-pytorch on torch {torch.__version__}"
    OUT.write_text(
        json.dumps(
            {"model": model_desc, "preprocessing": "ml.preprocess", "cases": cases}, indent=1
        )
        + "\n"
    )
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
