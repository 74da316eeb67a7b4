"""Reference data files shipped in ``db/data/`` (sources and licences in SOURCES.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).with_name("data")


def read_rows(name: str) -> list[dict[str, str]]:
    """The rows of ``db/data/<name>`` as dictionaries keyed by the header."""
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def regions() -> list[dict[str, str]]:
    """Régions as ``code``/``name`` rows."""
    return [{"code": r["code"], "name": r["name"]} for r in read_rows("regions.csv")]


def departments() -> list[dict[str, str]]:
    """Départements as ``code``/``name``/``region_code`` rows."""
    return [
        {"code": r["code"], "name": r["name"], "region_code": r["region"]}
        for r in read_rows("departements.csv")
    ]


def nomenclatures() -> list[dict[str, str]]:
    """Sorting rules as rows of the ``nomenclatures`` table (``*`` = national default)."""
    return [
        {
            "department_code": r["department_code"],
            "waste_category": r["waste_category"],
            "waste_container": r["container_fr"],
            "waste_container_en": r["container_en"],
            "instruction_fr": r["instruction_fr"],
            "instruction_en": r["instruction_en"],
        }
        for r in read_rows("nomenclatures.csv")
    ]


def items() -> list[dict[str, Any]]:
    """The shipped objects of ``items.json`` (built by ``build_items.py``)."""
    with (DATA_DIR / "items.json").open(encoding="utf-8") as handle:
        records: list[dict[str, Any]] = json.load(handle)
    return records
