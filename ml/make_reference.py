"""Write ``tests/ml/data/imagenet_VARIANT.json`` with the PyTorch reference model.

Run with a separate venv holding ``torch`` and ``efficientnet-lite-pytorch`` (not a
project dependency); VARIANT is lite0 (the default) or lite1, run at 224 px::

    /work/scratch/torchref/bin/python -m ml.make_reference DATASET_DIR CHECKPOINT.pth [VARIANT]
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
DATA = Path(__file__).resolve().parent.parent / "tests" / "ml" / "data"


def reference_file(variant: str) -> Path:
    """Where the reference logits of ``variant`` are kept."""
    return DATA / f"imagenet_{variant}.json"


def main(argv: list[str]) -> int:
    """Compute top-5 ImageNet logits of the first image of a few val classes."""
    import torch  # noqa: PLC0415
    from efficientnet_lite_pytorch import EfficientNet  # noqa: PLC0415

    data_dir, checkpoint = Path(argv[0]), Path(argv[1])
    variant = argv[2] if len(argv) > 2 else "lite0"
    model = EfficientNet.from_name(f"efficientnet-{variant}", image_size=224)
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
    model_desc = f"efficientnet-{variant} at 224 px, efficientnet-lite-pytorch on torch "
    model_desc += torch.__version__
    out = reference_file(variant)
    out.write_text(
        json.dumps(
            {"model": model_desc, "preprocessing": "ml.preprocess", "cases": cases}, indent=1
        )
        + "\n"
    )
    print(out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
