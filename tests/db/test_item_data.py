"""The shipped item and outline files: rebuilt byte for byte from the shared datasets, texts
Telegram accepts, reviewed categories only, attribution kept."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from db.categories import CLASSES
from db.reference import items
from tests.conftest import REPO
from tests.fake_telegram.parsing import render

DATA = REPO / "db" / "data"
SHARED = REPO.parent / "shared" / "datasets"
RECORDS = items()


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "source", "shipped"),
    [
        ("build_items", "ademe-qfdmd", "items.json"),
        ("build_outlines", "departements-geojson", "departements_outlines.json"),
    ],
)
def test_shipped_file_is_what_the_script_builds(
    script: str, source: str, shipped: str, tmp_path: Path
) -> None:
    if not (SHARED / source).is_dir():
        pytest.skip(f"{source} is not in ../shared/datasets")
    out = tmp_path / shipped
    _script(script).build(SHARED / source, out)
    assert out.read_bytes() == (DATA / shipped).read_bytes()


def test_objects_people_search_for_not_the_sites_categories() -> None:
    names = {r["name"] for r in RECORDS}
    assert len(RECORDS) > 1000
    assert {"Canette", "Pile jetable", "Médicaments", "Canapé", "Frigo"} <= names
    assert not [n for n in names if n.startswith("ABJ - ") or "Bonus réparation" in n]
    assert "Triman" not in names
    assert len({r["key"] for r in RECORDS}) == len(RECORDS)


def test_texts_are_telegram_html_without_the_sites_map() -> None:
    for record in RECORDS:
        texts = [record[k] for k in ("what", "good", "bad") if record[k]]
        assert texts, record["name"]
        for text in texts:
            render(text, "HTML")  # raises on a tag Telegram refuses
            assert "<br" not in text and "<iframe" not in text and "**" not in text
            assert "ci-dessous" not in text and "sont signalés avec" not in text, record["name"]


def test_categories_are_reviewed_classes() -> None:
    by_name = {r["name"]: r["category"] for r in RECORDS}
    assert {r["category"] for r in RECORDS} - {None} <= set(CLASSES)
    assert by_name["Canette"] == "metal"
    assert by_name["Bouteille en verre (bière, cidre, eau, lait, jus, vin...)"] == "verre"
    for special in ("Médicaments", "Pile jetable", "Seringue avec aiguille", "Amiante"):
        assert by_name[special] is None, special  # pharmacy, shop take-back, special collection
    counts = Counter(r["category"] for r in RECORDS)
    assert counts[None] > 300 and counts["textile"] > 20


def test_english_names_for_the_common_objects() -> None:
    named = [r for r in RECORDS if r["name_en"]]
    assert len(named) >= 150
    assert all(r["name_en"] == r["names_en"][0] for r in named)
    english = {n for r in RECORDS for n in r["names_en"]}
    assert {"battery", "pizza box", "light bulb", "fridge", "sofa"} <= english


def test_outlines_cover_the_101_departements() -> None:
    document = json.loads((DATA / "departements_outlines.json").read_text())
    codes = set(document["departements"])
    assert len(codes) == 101 and {"2A", "2B", "974", "976"} <= codes
    assert (DATA / "departements_outlines.json").stat().st_size < 600_000
    sources = (DATA / "SOURCES.md").read_text()
    assert "© ADEME" in sources and "Licence Ouverte" in sources and "Admin Express" in sources
