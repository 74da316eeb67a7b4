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
from pathlib import Path

from ml.gate import USERS_RULE
from scheduler.jobs import harvest_job, retrain_job
from tests.loop.conftest import WASTE, Loop, waste_train_every

BASE_EVERY = int(os.environ.get("DUMPIN_LOOP_BASE_EVERY", "4"))
"""One waste-v1/train file in this many is in the base dataset's train split
(``DUMPIN_LOOP_BASE_EVERY=1``: all of it, as deployed)."""
MIN_GAIN = 0.05
"""What the whole loop (memory, then the promoted retrain) adds at least on the held-out half
(the issue's figure; measured: 6.7 points)."""


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


async def test_corrections_harvest_and_retrain_improve_the_other_half(
    loop: Loop, tmp_path: Path
) -> None:
    settings = loop.settings(base_subset(tmp_path / "waste-v1-quarter"))
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
        f"harvested {harvested.added}; users' test photos {users['candidate']['n']}: "
        f"{users['candidate']['accuracy']:.4f} (active {users['active']['accuracy']:.4f}), "
        f"log loss {users['candidate']['log_loss']:.3f} "
        f"(active {users['active']['log_loss']:.3f}); "
        f"held-out half {before:.4f} -> memory {remembered:.4f} -> retrain {after:.4f}; "
        f"waste-v1/val {waste_before:.4f} -> {waste_after:.4f}; retrain {report.seconds:.0f} s"
    )
    assert report.rule == USERS_RULE and report.promoted, [r.text() for r in report.reasons]
    assert after - before >= MIN_GAIN
    assert after >= remembered
    assert waste_before - waste_after <= 0.01
