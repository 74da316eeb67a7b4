"""Label set and dataset folder listing for ``waste-v1`` style datasets."""

from __future__ import annotations

import hashlib
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


def in_selection(path: Path, every: int) -> bool:
    """Whether a file belongs to the fixed selection subset carved out of a train split:
    one file in ``every``, by the first two bytes of its SHA-256 (the datasets' own splits use
    the last digits, so the two choices are independent)."""
    digest = hashlib.sha256(Path(path).read_bytes()).digest()
    return int.from_bytes(digest[:2], "big") % every == 0


def split_selection(samples: list[Sample], every: int) -> tuple[list[Sample], list[Sample]]:
    """``(fit, selection)``: the samples to train on and the ones kept to choose epochs and
    settings (:func:`in_selection`); ``every=0`` keeps no selection subset."""
    if every <= 0:
        return samples, []
    chosen = [in_selection(s.path, every) for s in samples]
    return (
        [s for s, c in zip(samples, chosen, strict=True) if not c],
        [s for s, c in zip(samples, chosen, strict=True) if c],
    )
