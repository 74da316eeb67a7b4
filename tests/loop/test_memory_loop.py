"""Done when (issue 15, memory part): what a consenting user teaches through the buttons makes
the next similar photos better at once, without a retrain, and costs the base photos little."""

from __future__ import annotations

import json

from tests.conftest import REPO
from tests.loop.conftest import Loop


async def test_corrections_improve_the_other_half_through_the_memory(loop: Loop) -> None:
    before = loop.classify(loop.held)
    waste_before = await loop.waste_val()
    card = json.loads((REPO / "ml" / "models" / "model.json").read_text())
    shipped = card["memory"]["metrics"]["waste-v1/val"]["with_memory"]["accuracy"]
    assert round(waste_before, 4) == shipped  # the model card's figure, as the bot answers
    await loop.teach()
    after = loop.classify(loop.held)
    waste_after = await loop.waste_val()
    wrong = sum(a != s.class_name for a, s in zip(loop.answers, loop.sent, strict=True))
    print(
        f"sent {len(loop.sent)} ({wrong} corrected), held-out half {before:.4f} -> {after:.4f}, "
        f"waste-v1/val {waste_before:.4f} -> {waste_after:.4f}"
    )
    assert len(loop.answers) == len(loop.sent) == len(loop.held) - 1
    assert after - before >= 0.02
    assert waste_before - waste_after <= 0.01
