"""The deterministic split of a user's photo, from its hash: harvest files it there, and only
photos of the train split go into the classifier's memory."""

from __future__ import annotations

SPLIT_BUCKETS = 20
"""``int(sha[-8:], 16) % 20``: 0-13 train (70 %), 14-16 val (15 %), 17-19 test (15 %)."""


def split_of(digest: str) -> str:
    """The deterministic split of an image, from its SHA-256."""
    bucket = int(digest[-8:], 16) % SPLIT_BUCKETS
    return "train" if bucket < 14 else "val" if bucket < 17 else "test"
