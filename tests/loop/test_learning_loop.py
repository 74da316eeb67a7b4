"""Done when (issue 15): what a consenting user teaches through the buttons makes the next
similar photos better at once, through the memory, then after ``dumpin harvest`` and ``dumpin
retrain`` (the functions the commands and the scheduler call) promote a candidate on the users'
rule; ``dumpin classify`` with the default model answers the other half better at each step,
and waste-v1/val loses at most one point. The issue's 5 points are asked of a model to which
users' photos are new (studio photos only, the retrain given no wild-v1/train): 34.8 % ->
56.2 % -> 86.2 % on the held-out half. The shipped model learnt wild-v1/train, whose videos
both halves share: 90.5 % -> 91.4 % -> 91.9 % (BENCHMARKS.md, "Second opinion").

The base dataset is a deterministic quarter of waste-v1/train (every fourth file of each
class, by name, symlinked in tmp) with the whole of waste-v1/val as its test split, so the
gate judges the base photos on all of waste-v1/val: embedding all of waste-v1/train would
add about 2 minutes on a fresh clone. ``DUMPIN_LOOP_BASE_EVERY=1`` runs it on all of
waste-v1/train, as deployed, with the default DUMPIN_USER_PHOTO_WEIGHT (5).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from ml.gate import USERS_RULE
from ml.second_opinion import CARD_KEY
from scheduler.jobs import harvest_job, retrain_job
from tests.conftest import REPO
from tests.loop.conftest import WASTE, Loop, studio_model, waste_train_every

BASE_EVERY = int(os.environ.get("DUMPIN_LOOP_BASE_EVERY", "4"))
"""One waste-v1/train file in this many is in the base dataset's train split
(``DUMPIN_LOOP_BASE_EVERY=1``: all of it, as deployed)."""
MIN_GAIN = 0.05
"""What the memory alone, and the whole loop, add at least on the held-out half when users'
photos are new to the model (the issue's figure)."""
MIN_GAIN_SHIPPED = 0.009
"""What they add at least with the shipped model, which learnt wild-v1/train (whose videos
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
    """The held-out half's top-1 before, after the memory and after the retrain, and
    waste-v1/val's."""

    before: float
    remembered: float
    after: float
    waste_before: float


async def whole_loop(loop: Loop, settings: Settings, name: str) -> Run:
    """Teach the sent half through the bot, harvest, retrain; measure at each step, and check
    what holds for every model: each step keeps the held-out half and costs waste-v1/val at
    most one point, the candidate is promoted on the users' rule."""
    before = loop.classify(loop.held)
    waste_before = await loop.waste_val()
    await loop.teach()
    assert len(loop.answers) == len(loop.sent) == len(loop.held) - 1
    remembered = loop.classify(loop.held)
    waste_remembered = await loop.waste_val()
    harvested = await harvest_job(settings, threading.Event())
    report = await retrain_job(settings, threading.Event())
    after = loop.classify(loop.held)
    waste_after = await loop.waste_val()
    assert report is not None
    users = report.parts["users"]
    wrong = sum(a != s.class_name for a, s in zip(loop.answers, loop.sent, strict=True))
    print(
        f"{name}: sent {len(loop.sent)} ({wrong} corrected), harvested {harvested.added}; "
        f"users' test photos {users['candidate']['n']}: "
        f"{users['candidate']['accuracy']:.4f} (active {users['active']['accuracy']:.4f}), "
        f"log loss {users['candidate']['log_loss']:.3f} "
        f"(active {users['active']['log_loss']:.3f}); "
        f"held-out half {before:.4f} -> memory {remembered:.4f} -> retrain {after:.4f}; "
        f"waste-v1/val {waste_before:.4f} -> {waste_remembered:.4f} -> {waste_after:.4f}; "
        f"retrain {report.seconds:.0f} s"
    )
    assert report.rule == USERS_RULE and report.promoted, [r.text() for r in report.reasons]
    assert after >= remembered
    assert waste_before - max(waste_remembered, waste_after) <= 0.01
    return Run(before, remembered, after, waste_before)


async def test_the_shipped_model_learns_from_corrections(loop: Loop, tmp_path: Path) -> None:
    settings = loop.settings(base_subset(tmp_path / "waste-v1-quarter"))
    run = await whole_loop(loop, settings, "shipped model")
    card = json.loads((REPO / "ml" / "models" / "model.json").read_text())
    shipped = (  # the card's figure as the bot answers, with the second model if there is one
        card[CARD_KEY]["metrics"]["waste-v1/val"]["accuracy"]
        if CARD_KEY in card
        else card["memory"]["metrics"]["waste-v1/val"]["with_memory"]["accuracy"]
    )
    assert round(run.waste_before, 4) == shipped
    assert run.remembered - run.before >= MIN_GAIN_SHIPPED
    assert run.after - run.before >= MIN_GAIN_SHIPPED


async def test_a_model_that_never_saw_such_photos_learns_them(loop: Loop, tmp_path: Path) -> None:
    """The issue's situation: users' photos are new to the model (head and memory of studio
    photos only) and the retrain learns them from the users alone (no wild-v1/train)."""
    loop.shipped = studio_model(loop.cache, tmp_path / "studio")
    base = base_subset(tmp_path / "waste-v1-quarter")
    run = await whole_loop(loop, loop.settings(base, tmp_path / "no-wild-v1"), "studio model")
    assert run.remembered - run.before >= MIN_GAIN  # the memory alone, before any retrain
    assert run.after - run.before >= MIN_GAIN
