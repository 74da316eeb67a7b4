"""``db/data/nomenclatures.csv``: a national rule per class, valid overrides, both languages."""

from __future__ import annotations

from collections import Counter

from db import geo
from db.categories import CLASSES
from db.models import NATIONAL
from db.reference import read_rows

COLUMNS = [
    "department_code",
    "waste_category",
    "container_fr",
    "container_en",
    "instruction_fr",
    "instruction_en",
]
TEXT_COLUMNS = COLUMNS[2:]
OVERRIDDEN = {"75", "33", "44", "2A", "2B", "971", "972", "973", "974", "976"}

ROWS = read_rows("nomenclatures.csv")


def rule(code: str, category: str) -> dict[str, str]:
    return next(r for r in ROWS if (r["department_code"], r["waste_category"]) == (code, category))


def test_columns() -> None:
    assert all(list(row) == COLUMNS for row in ROWS)


def test_every_class_has_a_national_row() -> None:
    national = [r["waste_category"] for r in ROWS if r["department_code"] == NATIONAL]
    assert sorted(national) == sorted(CLASSES)


def test_no_duplicates_and_known_values() -> None:
    keys = Counter((r["department_code"], r["waste_category"]) for r in ROWS)
    assert max(keys.values()) == 1
    known = {d.code for d in geo.departments()} | {NATIONAL}
    assert {r["department_code"] for r in ROWS} <= known
    assert {r["waste_category"] for r in ROWS} <= set(CLASSES)


def test_overrides_exist_and_differ() -> None:
    assert {r["department_code"] for r in ROWS} - {NATIONAL} >= OVERRIDDEN
    for row in ROWS:
        if row["department_code"] != NATIONAL:
            national = rule(NATIONAL, row["waste_category"])
            assert any(row[c] != national[c] for c in TEXT_COLUMNS), row


def test_text_fields_are_filled_in_both_languages() -> None:
    for row in ROWS:
        for column in TEXT_COLUMNS:
            value = row[column]
            assert value and value == value.strip(), (row, column)
            assert len(value) <= (200 if column.startswith("container") else 600), (row, column)
        assert row["container_fr"] != row["container_en"], row
        assert row["instruction_fr"] != row["instruction_en"], row
        assert row["instruction_fr"].endswith("."), row
        assert row["instruction_en"].endswith("."), row


def test_local_rules_follow_the_domain() -> None:
    assert "vert" in rule("75", "autre")["container_fr"].lower()
    assert "Trilib'" in rule("75", "verre")["container_fr"]
    assert "noir" in rule("33", "autre")["container_fr"].lower()
    assert "Tri'Sac" in rule("44", "plastique")["container_fr"]
    assert "bleu" in rule("44", "autre")["container_fr"].lower()
    for code in ("2A", "2B", "971", "972", "973", "974", "976"):
        assert "recyclerie" in rule(code, "bois")["instruction_fr"]
        assert "syndicat" in rule(code, "pierre")["instruction_fr"]
    for code in ("971", "972", "973", "974", "976"):
        assert "2026" in rule(code, "plastique")["instruction_fr"]
    assert "jaune" not in rule(NATIONAL, "verre")["container_fr"].lower()
