"""Done when (issue 15, retrain part): after the user's corrections, ``dumpin harvest`` and
``dumpin retrain`` (the functions the commands and the scheduler call) promote a candidate on
the users' rule, ``dumpin classify`` with the default model answers the other half better, and
waste-v1/val loses at most one point.

Measured (BENCHMARKS.md): held-out half 85.2 % -> 88.1 % with the memory -> 91.9 % after the
promoted retrain (+6.7 points); users' test photos 34/40 right (active 33/40); waste-v1/val
93.0 % -> 92.4 %.

The base dataset is a deterministic quarter of waste-v1/train (every fourth file of each
class, by name, symlinked in tmp) with the whole of waste-v1/val as its test split, so the
gate judges the base photos on all of waste-v1/val: embedding all of waste-v1/train would
add about 2 minutes on a fresh clone. ``DUMPIN_LOOP_BASE_EVERY=1`` runs it on all of
waste-v1/train, as deployed, with the default DUMPIN_USER_PHOTO_WEIGHT (5): the candidate
answers 33/40 users' test photos like the active model, and is promoted on its lower log loss
(held-out half 85.2 % -> 88.1 % -> 91.0 %, waste-v1/val 93.0 % -> 92.6 %).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from ml.gate import USERS_RULE
from scheduler.jobs import harvest_job, retrain_job
from scheduler.retrain import RetrainReport
from tests.loop.conftest import WASTE, Loop, studio_model, waste_train_every

BASE_EVERY = int(os.environ.get("DUMPIN_LOOP_BASE_EVERY", "4"))
"""One waste-v1/train file in this many is in the base dataset's train split
(``DUMPIN_LOOP_BASE_EVERY=1``: all of it, as deployed)."""
MIN_GAIN = 0.05
"""What the whole loop (memory, then the promoted retrain) adds at least on the held-out half
when users' photos are new to the model (the issue's figure)."""
MIN_GAIN_SHIPPED = 0.009
"""What it adds at least with the shipped model, which learnt wild-v1/train (whose videos
both halves share) and answers 90.5 % of the held-out half before any correction: two photos
of 210 (measured: 90.5 % -> 91.4 % -> 91.9 %)."""


def base_subset(root: Path) -> Path:
    """A waste-v1 shaped dataset in ``root``: every ``BASE_EVERY``-th train file of each class
    (sorted by name) and the whole val split, as symlinks (waste-v1 itself when all)."""
    if BASE_EVERY == 1:
        return WASTE
    for name, files in waste_train_every(BASE_EVERY).items():
        target = root / "train" / name
        target.mkdir(parents=True)
        for file in files:
            (target / file.name).symlink_to(file)
    (root / "val").symlink_to(WASTE / "val", target_is_directory=True)
    return root


@dataclass(frozen=True)
class Run:
    """The held-out half's top-1 before, after the memory and after the retrain, waste-v1/val's
    before and after, and the retrain's report."""

    before: float
    remembered: float
    after: float
    waste_before: float
    waste_after: float
    report: RetrainReport


async def whole_loop(loop: Loop, settings: Settings, name: str) -> Run:
    """Teach the sent half through the bot, harvest, retrain; measure at each step."""
    before = loop.classify(loop.held)
    waste_before = await loop.waste_val()
    await loop.teach()
    remembered = loop.classify(loop.held)
    harvested = await harvest_job(settings, threading.Event())
    report = await retrain_job(settings, threading.Event())
    after = loop.classify(loop.held)
    waste_after = await loop.waste_val()
    assert report is not None
    users = report.parts["users"]
    print(
        f"{name}: harvested {harvested.added}; users' test photos {users['candidate']['n']}: "
        f"{users['candidate']['accuracy']:.4f} (active {users['active']['accuracy']:.4f}), "
        f"log loss {users['candidate']['log_loss']:.3f} "
        f"(active {users['active']['log_loss']:.3f}); "
        f"held-out half {before:.4f} -> memory {remembered:.4f} -> retrain {after:.4f}; "
        f"waste-v1/val {waste_before:.4f} -> {waste_after:.4f}; retrain {report.seconds:.0f} s"
    )
    assert report.rule == USERS_RULE and report.promoted, [r.text() for r in report.reasons]
    assert after >= remembered
    assert waste_before - waste_after <= 0.01
    return Run(before, remembered, after, waste_before, waste_after, report)


async def test_corrections_harvest_and_retrain_improve_the_other_half(
    loop: Loop, tmp_path: Path
) -> None:
    settings = loop.settings(base_subset(tmp_path / "waste-v1-quarter"))
    run = await whole_loop(loop, settings, "shipped model")
    assert run.after - run.before >= MIN_GAIN_SHIPPED


async def test_a_model_that_never_saw_such_photos_learns_them_through_the_whole_loop(
    loop: Loop, tmp_path: Path
) -> None:
    """The issue's situation: users' photos are new to the model (head and memory of studio
    photos only) and the retrain learns them from the users alone (no wild-v1/train)."""
    loop.shipped = studio_model(loop.cache, tmp_path / "studio")
    base = base_subset(tmp_path / "waste-v1-quarter")
    run = await whole_loop(loop, loop.settings(base, tmp_path / "no-wild-v1"), "studio model")
    assert run.after - run.before >= MIN_GAIN
