"""The matcher on the shipped names: the query table, and what it forgives and refuses."""

from __future__ import annotations

import pytest

from db.matcher import MAX_MATCHES, Matcher, singular, words
from db.reference import items
from tests.db.search_queries import ENGLISH, FRENCH

RECORDS = items()
BY_NAME = {r["name"]: index for index, r in enumerate(RECORDS)}
MATCHER = Matcher.build(
    [(i, "fr", n) for i, r in enumerate(RECORDS) for n in r["names"]]
    + [(i, "en", n) for i, r in enumerate(RECORDS) for n in r["names_en"]],
    common=[i for i, r in enumerate(RECORDS) if r["name_en"]],
    titles={i: [r["name"], *r["names_en"][:1]] for i, r in enumerate(RECORDS)},
)


def found(query: str, language: str = "fr") -> list[str]:
    return [RECORDS[m.item_id]["name"] for m in MATCHER.search(query, language).matches]


def test_table_is_large_and_names_real_objects() -> None:
    assert len(FRENCH) >= 80 and len(ENGLISH) >= 40
    assert {expected for _, expected in FRENCH + ENGLISH} <= set(BY_NAME)


@pytest.mark.parametrize(("query", "expected"), FRENCH)
def test_french_query_finds_its_object_in_the_first_three(query: str, expected: str) -> None:
    assert expected in found(query)[:3]


@pytest.mark.parametrize(("query", "expected"), ENGLISH)
def test_english_query_finds_its_object_in_the_first_three(query: str, expected: str) -> None:
    assert expected in found(query, "en")[:3]


def test_the_obvious_object_comes_first_nine_times_in_ten() -> None:
    first = sum(found(q)[:1] == [e] for q, e in FRENCH) / len(FRENCH)
    assert first >= 0.9


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("CANETTE", "Canette"),
        ("canette !!!", "Canette"),
        ("yaourt pot de", "Pot en plastique (yaourt, crème fraîche)"),
        ("medicament", "Médicaments"),
        ("où jeter mes vieilles piles usagées ?", "Pile jetable"),
        ("bouteile en platique", "Bouteille en plastique (et bouchon)"),
        ("frigo", "Frigo"),
        ("ordi portable", "Ordinateur portable"),
        ("barquette alu", "Barquette en aluminium"),
    ],
)
def test_forgives_case_punctuation_order_extra_words_typos_abbreviations(
    variant: str, expected: str
) -> None:
    assert found(variant)[:1] == [expected]


@pytest.mark.parametrize(
    "nonsense",
    ["", "   ", "😀😀😀", "\x00\x01\x02", "x" * 5000, "'; DROP TABLE items; --", "1 OR 1=1"],
)
def test_bad_queries_find_nothing(nonsense: str) -> None:
    result = MATCHER.search(nonsense)
    assert result.matches == () and result.clear is None


def test_at_most_five_and_close_ones_are_choices() -> None:
    result = MATCHER.search("sac")
    assert 1 < len(result.matches) <= MAX_MATCHES
    assert MATCHER.search("pile").clear is None  # jetable or rechargeable: the user picks
    clear = MATCHER.search("canette").clear
    assert clear is not None and RECORDS[clear.item_id]["name"] == "Canette"


def test_english_names_only_for_english_users() -> None:
    assert found("battery", "en")[:1] == ["Pile jetable"]
    assert "Pile jetable" not in found("battery", "fr")
    assert found("canapé", "en")[:1] == ["Canapé"]  # French names still work in English


def test_near_misses_are_suggested() -> None:
    result = MATCHER.search("bouteille de coca")
    assert result.matches == ()
    assert RECORDS[result.suggestions[0].item_id]["name"].startswith("Bouteille")


def test_words_singular_and_stopwords() -> None:
    assert words("Les Journaux d'hier") == ["journal", "hier"]
    assert singular("bocaux") == "bocal" and singular("batteries") == "battery"
    assert singular("os") == "os" and singular("vieux") == "vieux"


def test_built_once_from_any_rows() -> None:
    matcher = Matcher.build([(1, "fr", "Pot (hors verre)"), (2, "fr", "!!!"), (3, "fr", "Verre")])
    assert len(matcher) == 2
    assert [m.item_id for m in matcher.search("verre").matches][:1] == [3]


@pytest.mark.parametrize("chat", ["salut", "bonjour !", "merci", "aide", "help", "ok"])
def test_greetings_and_help_are_not_objects(chat: str) -> None:
    result = MATCHER.search(chat)
    assert result.matches == () and result.suggestions == ()


def test_what_a_name_says_an_object_is_not_does_not_match() -> None:
    assert found("trottinette électrique")[:1] == ["Trottinette électrique"]
    assert "Caoutchouc (hors pneus)" not in found("pneus")
