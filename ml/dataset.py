"""Label set and dataset folder listing for ``waste-v1`` style datasets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from db.categories import CLASSES

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})


@dataclass(frozen=True)
class Sample:
    """One labelled image file."""

    path: Path
    label: int

    @property
    def class_name(self) -> str:
        """Name of the label."""
        return CLASSES[self.label]


def list_split(data_dir: Path, split: str) -> list[Sample]:
    """Files of ``data_dir/split/<class>/``, sorted; unknown class folders are an error."""
    root = Path(data_dir) / split
    if not root.is_dir():
        raise FileNotFoundError(root)
    samples: list[Sample] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in CLASSES:
            raise ValueError(f"unknown class folder {folder}")
        label = CLASSES.index(folder.name)
        samples.extend(
            Sample(p, label) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
        )
    return samples


def class_counts(samples: list[Sample]) -> dict[str, int]:
    """Number of samples per class name (all classes, in label order)."""
    counts = dict.fromkeys(CLASSES, 0)
    for s in samples:
        counts[s.class_name] += 1
    return counts
