"""EfficientNet-Lite variants' layout (no TensorFlow): stages, repeats and block counts."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

DEPTH = {"lite0": 1.0, "lite1": 1.1}
"""Depth coefficient of each variant (the reference's ``efficientnet_lite_params``)."""


@dataclass(frozen=True)
class Stage:
    """One stage of MBConv blocks (the reference's block arguments)."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int


_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


def stages(variant: str) -> list[Stage]:
    """The stages of ``variant``: inner stages' repeats scaled by its depth coefficient."""
    depth = DEPTH[variant]
    last = len(_STAGES) - 1
    return [
        s if i in (0, last) else replace(s, repeats=math.ceil(depth * s.repeats))
        for i, s in enumerate(_STAGES)
    ]


def num_blocks(variant: str) -> int:
    """Blocks of ``variant`` (16 for Lite0, 21 for Lite1)."""
    return sum(s.repeats for s in stages(variant))
