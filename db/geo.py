"""French départements and régions, and resolving what a user types to a département.

Pure Python over the CSVs of ``db/data/`` (see ``db/data/SOURCES.md``), loaded once, lazily.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_INPUT = 200
"""Longer input is not a place name (the longest commune name has 45 characters)."""

_NON_WORD = re.compile(r"[\W_]+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NUMBER_SIGNS = re.compile(  # superscripts, fractions, circled numbers: not digits to read
    "[\u00b2\u00b3\u00b9\u00bc-\u00be\u2070-\u209f\u2150-\u218f\u2460-\u24ff"
    "\u2776-\u2793\u3248-\u325f\u3280-\u32bf\U0001f100-\U0001f10c]"
)
_POSTAL = re.compile(r"[0-9]{5}")
_ORDINAL = re.compile(r"([0-9]+)(?:er|ere|eme|em|e)")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
_TOKENS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_DROPPED = frozenset({"arrondissement", "arr", "arrt"})
_ARTICLES = frozenset({"le", "la", "les", "l"})


@dataclass(frozen=True)
class Region:
    """A région (INSEE code, e.g. ``"75"`` Nouvelle-Aquitaine, ``"04"`` La Réunion)."""

    code: str
    name: str


@dataclass(frozen=True)
class Department:
    """A département (INSEE code, e.g. ``"33"``, ``"2A"``, ``"974"``)."""

    code: str
    name: str
    region_code: str


def normalize(text: str) -> str:
    """Lower-case ``text``, strip accents, turn punctuation into single spaces.

    >>> normalize("  Côtes-d'Armor ")
    'cotes d armor'
    """
    text = unicodedata.normalize("NFKC", _NUMBER_SIGNS.sub("", text))
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES)))
    return " ".join(_NON_WORD.sub(" ", text).split())


def _tokens(text: str) -> list[str]:
    """Normalised tokens with ``st``/``ste`` expanded and ordinals (``3e``, ``1er``) as digits."""
    out: list[str] = []
    for token in normalize(text).split():
        if token in _DROPPED:
            continue
        ordinal = _ORDINAL.fullmatch(token)
        out.append(ordinal.group(1) if ordinal else _TOKENS.get(token, token))
    return out


def _key(tokens: list[str]) -> str:
    """Lookup key: tokens joined without spaces, so ``cotes d armor`` = ``cotesdarmor``."""
    return "".join(tokens)


def _bare_key(tokens: list[str]) -> str:
    """Lookup key without a leading article (``La Réunion`` → ``reunion``)."""
    return _key(tokens[1:] if len(tokens) > 1 and tokens[0] in _ARTICLES else tokens)


def _rows(name: str) -> Iterator[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


@dataclass(frozen=True)
class _Geo:
    regions: tuple[Region, ...]
    departments: tuple[Department, ...]
    by_code: dict[str, Department]
    codes: dict[str, tuple[str, ...]]
    dept_names: dict[str, str]
    dept_bare_names: dict[str, str]
    postal: dict[str, tuple[str, ...]]
    places: dict[str, tuple[str, ...]]
    bare_places: dict[str, tuple[str, ...]]
    suggestion_keys: dict[str, list[str]]


def _freeze(index: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(sorted(codes)) for key, codes in index.items()}


def _code_aliases(departments: Iterable[Department]) -> dict[str, tuple[str, ...]]:
    """Accepted spellings of codes: ``"2a"``, ``"1"`` for ``"01"``, ``"20"`` for both Corse."""
    index: dict[str, set[str]] = defaultdict(set)
    for dept in departments:
        index[dept.code.lower()].add(dept.code)
        if dept.code.startswith("0"):
            index[dept.code[1:]].add(dept.code)
        if dept.code.startswith("2") and not dept.code.isdigit():
            index["20"].add(dept.code)
    return _freeze(index)


@cache
def _geo() -> _Geo:
    regions = tuple(Region(r["code"], r["name"]) for r in _rows("regions.csv"))
    departments = tuple(
        Department(d["code"], d["name"], d["region"]) for d in _rows("departements.csv")
    )
    postal: dict[str, set[str]] = defaultdict(set)
    places: dict[str, set[str]] = defaultdict(set)
    bare_places: dict[str, set[str]] = defaultdict(set)
    communes = list(_rows("communes.csv"))
    for row in communes:
        for code in row["postal_codes"].split():
            postal[code].add(row["departement"])
    for row in [*communes, *_rows("commune_aliases.csv")]:
        tokens = _tokens(row["name"])
        places[_key(tokens)].add(row["departement"])
        bare_places[_bare_key(tokens)].add(row["departement"])
    dept_names = {_key(_tokens(d.name)): d.code for d in departments}
    suggestion_keys: dict[str, list[str]] = defaultdict(list)
    for key in places:
        suggestion_keys[key[:1]].append(key)
    return _Geo(
        regions=regions,
        departments=departments,
        by_code={d.code: d for d in departments},
        codes=_code_aliases(departments),
        dept_names=dept_names,
        dept_bare_names={_bare_key(_tokens(d.name)): d.code for d in departments},
        postal=_freeze(postal),
        places=_freeze(places),
        bare_places=_freeze(bare_places),
        suggestion_keys=dict(suggestion_keys),
    )


def regions() -> tuple[Region, ...]:
    """The 18 régions (13 metropolitan + 5 overseas), by code."""
    return _geo().regions


def departments() -> tuple[Department, ...]:
    """The 101 départements, by code."""
    return _geo().departments


def department(code: str) -> Department | None:
    """The département with INSEE ``code`` (``"2a"`` accepted), or ``None``."""
    return _geo().by_code.get(code.strip().upper())


def _by_name(geo: _Geo, tokens: list[str]) -> tuple[str, ...]:
    key, bare = _key(tokens), _bare_key(tokens)
    if key in geo.dept_names:
        return (geo.dept_names[key],)
    if key in geo.places:
        return geo.places[key]
    if bare in geo.dept_bare_names:
        return (geo.dept_bare_names[bare],)
    return geo.bare_places.get(bare, ())


def _resolve_codes(geo: _Geo, text: str) -> tuple[str, ...]:
    tokens = _tokens(text)
    if not tokens:
        return ()
    compact = _key(tokens)
    if compact in geo.codes:
        return geo.codes[compact]
    if _POSTAL.fullmatch(compact):
        return geo.postal.get(compact, ())
    named = _by_name(geo, tokens)
    if named:
        return named
    # "33000 Bordeaux", "Paris 75015": the postal code, narrowed by the name when it helps.
    postcodes = [t for t in tokens if _POSTAL.fullmatch(t)]
    if len(postcodes) != 1:
        return ()
    by_postal = geo.postal.get(postcodes[0], ())
    rest = [t for t in tokens if t != postcodes[0]]
    narrowed = tuple(c for c in by_postal if c in _by_name(geo, rest))
    return narrowed or by_postal


def resolve_department(text: str) -> list[Department]:
    """Départements matching ``text``: [] unknown, one resolved, several ambiguous.

    Accepts a code (``"33"``, ``"2a"``, ``"1"``), a département name, a 5-digit postal code,
    a commune name (or delegated commune, or ``"Lyon 3e"``), or a postal code with a name.
    An exact département name wins over communes of the same name. Never raises.
    """
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return []
    geo = _geo()
    return [geo.by_code[code] for code in _resolve_codes(geo, text)]


def suggest_departments(text: str, limit: int = 3) -> list[Department]:
    """Up to ``limit`` départements whose name, or a commune's, is close to ``text``."""
    if not isinstance(text, str) or len(text) > MAX_INPUT or limit <= 0:
        return []
    geo = _geo()
    key = _key(_tokens(text))
    if len(key) < 3:
        return []
    found: list[str] = []
    for match in difflib.get_close_matches(key, geo.dept_names, n=limit, cutoff=0.75):
        found.append(geo.dept_names[match])
    candidates = geo.suggestion_keys.get(key[0], [])
    for match in difflib.get_close_matches(key, candidates, n=limit * 3, cutoff=0.8):
        found.extend(geo.places[match])
    return [geo.by_code[code] for code in dict.fromkeys(found)][:limit]
