"""What a model folder holds: the files every model has, the memory's exemplars when it has
them, and the same for the second model it may carry (:mod:`ml.second_opinion`)."""

from __future__ import annotations

from pathlib import Path

from ml.memory import EXEMPLARS_FILE

MODEL_FILES = ("backbone.tflite", "head.npz", "model.json")
"""What every model folder holds."""
SECOND_DIR = "second"
"""The second model's folder, inside the first one's."""


def model_files(model_dir: Path) -> list[str]:
    """Paths, relative to ``model_dir``, of its model files, its second model's included."""
    names = [*MODEL_FILES, *([EXEMPLARS_FILE] if (model_dir / EXEMPLARS_FILE).is_file() else [])]
    second = model_dir / SECOND_DIR
    if (second / "model.json").is_file():
        names += [f"{SECOND_DIR}/{name}" for name in model_files(second)]
    return names
