"""Départements, régions and resolving what a user types to a département."""

from __future__ import annotations

import pytest

from db import geo

EXPECTED_CODES = {
    *(f"{n:02d}" for n in range(1, 20)),
    "2A",
    "2B",
    *(f"{n:02d}" for n in range(21, 96)),
    "971",
    "972",
    "973",
    "974",
    "976",
}


def codes(text: str) -> list[str]:
    return [d.code for d in geo.resolve_department(text)]


def test_counts_and_codes() -> None:
    assert len(geo.departments()) == 101
    assert {d.code for d in geo.departments()} == EXPECTED_CODES
    assert len(geo.regions()) == 18
    assert {r.code for r in geo.regions()} == {
        "01", "02", "03", "04", "06",
        "11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94",
    }  # fmt: skip
    region_codes = {r.code for r in geo.regions()}
    assert all(d.region_code in region_codes for d in geo.departments())


def test_department_lookup() -> None:
    assert geo.department("22") == geo.Department("22", "Côtes-d'Armor", "53")
    assert geo.department("2a") == geo.Department("2A", "Corse-du-Sud", "94")
    assert geo.department("976") == geo.Department("976", "Mayotte", "06")
    assert geo.department("975") is None
    assert geo.department("") is None


def test_normalize() -> None:
    assert geo.normalize("  Côtes-d'Armor ") == "cotes d armor"
    assert geo.normalize("ŒUVRE — Saint‑Étienne!!") == "oeuvre saint etienne"
    assert geo.normalize("３３") == "33"
    assert geo.normalize("🗑️") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("33", ["33"]),
        (" 33 ", ["33"]),
        ("2a", ["2A"]),
        ("2B", ["2B"]),
        ("974", ["974"]),
        ("1", ["01"]),
        ("01", ["01"]),
        ("20", ["2A", "2B"]),
        ("975", []),
        ("988", []),
        ("0", []),
        ("96", []),
    ],
)
def test_codes(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gironde", "33"),
        ("gironde", "33"),
        ("GIRONDE", "33"),
        ("Côtes-d'Armor", "22"),
        ("cotes d armor", "22"),
        ("Cotes darmor", "22"),
        ("côte-d'or", "21"),
        ("puy de dome", "63"),
        ("Puy-de-Dôme", "63"),
        ("finistere", "29"),
        ("Seine St Denis", "93"),
        ("Territoire de Belfort", "90"),
        ("La Réunion", "974"),
        ("reunion", "974"),
        ("Guyane", "973"),
        ("corse du sud", "2A"),
        ("Haute-Corse", "2B"),
    ],
)
def test_department_names(text: str, expected: str) -> None:
    assert codes(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("33000", ["33"]),
        ("75015", ["75"]),
        ("75116", ["75"]),
        ("20000", ["2A"]),
        ("20090", ["2A"]),
        ("20200", ["2B"]),
        ("20600", ["2B"]),
        ("97400", ["974"]),
        ("97100", ["971"]),
        ("97200", ["972"]),
        ("97300", ["973"]),
        ("97600", ["976"]),
        ("01200", ["01", "74"]),
        ("33220", ["24", "33"]),
        ("33999", []),
        ("97150", []),
        ("00000", []),
    ],
)
def test_postal_codes(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bordeaux", ["33"]),
        ("bordeaux", ["33"]),
        ("st etienne", ["42"]),
        ("Saint-Étienne", ["42"]),
        ("ST-ETIENNE", ["42"]),
        ("Saint Etienne du Rouvray", ["76"]),
        ("ste maxime", ["83"]),
        ("Paris", ["75"]),
        ("Lyon", ["69"]),
        ("Lyon 3e", ["69"]),
        ("lyon 3ème arrondissement", ["69"]),
        ("Marseille", ["13"]),
        ("Marseille 1er", ["13"]),
        ("Paris 15e", ["75"]),
        ("Ajaccio", ["2A"]),
        ("Bastia", ["2B"]),
        ("Le Tampon", ["974"]),
        ("Mamoudzou", ["976"]),
        ("Le Havre", ["76"]),
        ("havre", ["76"]),
        ("L'Haÿ-les-Roses", ["94"]),
        ("lhay les roses", ["94"]),
        ("Annecy-le-Vieux", ["74"]),  # a delegated commune since 2017
        ("33000 Bordeaux", ["33"]),
        ("Paris 75015", ["75"]),
        ("01200 Valserhône", ["01"]),
    ],
)
def test_commune_names(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


def test_ambiguous_commune_names() -> None:
    assert codes("Saint-Denis") == ["11", "30", "93", "974"]
    assert len(codes("Sainte-Colombe")) > 5
    assert codes("ste colombe") == codes("Sainte-Colombe")
    assert codes("Valence") == ["16", "26", "82"]
    assert len(codes("Saint-Pierre")) > 5


def test_exact_department_name_wins_over_communes() -> None:
    assert codes("Vienne") == ["86"]  # not the commune of Vienne (38)
    assert codes("Vienne 38200") == ["38"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t",
        "-",
        "'''",
        "🗑️",
        "½",
        "①",
        "x" * 10_000,
        "33" * 1_000,
        "\x00",
        "\ud800",
        "²",
        "٣٣",
        "Atlantis",
        "2C",
        "123456",
        "3 3 0 0 0 0",
        "ﷺ",
        "İstanbul",
    ],
)
def test_garbage_never_raises(text: str) -> None:
    assert geo.resolve_department(text) == []
    assert isinstance(geo.suggest_departments(text), list)


def test_fullwidth_digits_and_emoji() -> None:
    assert codes("３３") == ["33"]
    assert codes("🇫🇷 33 🇫🇷!") == ["33"]
    assert codes("３３０００") == ["33"]


def test_suggestions() -> None:
    assert geo.suggest_departments("gyronde")[0].code == "33"
    assert geo.suggest_departments("finnistere")[0].code == "29"
    assert geo.suggest_departments("st etiene")[0].code == "42"
    assert "13" in {d.code for d in geo.suggest_departments("marseile")}
    assert len(geo.suggest_departments("sainte colombes", limit=2)) == 2
    assert geo.suggest_departments("qwxzv") == []
    assert geo.suggest_departments("gironde", limit=0) == []
