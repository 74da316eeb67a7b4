"""Derive ``db/data/items.json`` from ADEME's "Que faire de mes objets et déchets" fixtures.

Offline, stdlib only; nothing reads the fixtures at run time. To rebuild::

    python db/data/build_items.py ../shared/datasets/ademe-qfdmd

The argument is the folder holding ``produits.json`` and ``synonymes.json``. The review file
``items_review.csv`` (written by hand: category and English names of each object) is read
from this folder. The output is deterministic: the same inputs give the same bytes.
See ``SOURCES.md`` for what is kept, left out and why.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

OUT = Path(__file__).resolve().parent
REVIEW = OUT / "items_review.csv"
ITEMS = OUT / "items.json"
CATEGORIES = frozenset(
    {
        *("bois", "carton", "cuir", "textile", "alimentaire", "dechets_verts", "electronique"),
        *("metal", "papier", "pierre", "plastique", "verre", "autre"),
    }
)
"""The 13 classes of ``db/categories.py`` (this script runs without the package)."""
TEXTS = (
    "qu_est_ce_que_j_en_fais",
    "qu_est_ce_que_j_en_fais_bon_etat",
    "qu_est_ce_que_j_en_fais_mauvais_etat",
)
INTERNAL = re.compile(r" - |^Triman$")
"""Names of the source site's internal categories: "ABJ - …", "… - Bonus réparation",
"EEE - … - BR", "Ameublement - …", and "Triman" (a page about the logo, not an object)."""
MAP_BELOW = re.compile(r"(?:la |une )?carte ci-dessous")
MAP_TEXT = "la carte du site Que faire de mes objets et déchets"
SITE_ONLY = re.compile(
    r"\s*Ceux proposant le Bonus Réparation sont signalés avec le symbole (?:<b>)?%(?:</b>)?\.?"
)
"""A hint about the source site's map, which the bot does not show."""
MORE = re.compile(
    r'rubrique "(?:<b>)?En savoir plus(?:</b>)?"'
    r"(?: ci-dessous)?(?: ou regardez la vidéo ci-dessous)?"
    r'|voir "<b>En savoir plus</b>" ci-dessous'
)
MORE_TEXT = "rubrique « En savoir plus » du site Que faire de mes objets et déchets"
"""The source page's "En savoir plus" section is not shipped: point to it on the site."""
NOT_OBJECTS = frozenset({"Triman"})
"""Source entries about something else than an object (a logo): their names are left out."""
SAFE_URL = re.compile(r"https?://[^\s\"'<>]+")
MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
MARKDOWN_BOLD = re.compile(r"\*\*(.+?)\*\*")


def slug(name: str) -> str:
    """Lower-case ASCII words joined by hyphens: the object's stable key."""
    text = unicodedata.normalize("NFKD", name.casefold().replace("œ", "oe").replace("æ", "ae"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "-".join(re.findall(r"[a-z0-9]+", text))[:100]


class _TelegramHtml(HTMLParser):
    """Rewrites the source's HTML into the subset Telegram accepts: ``<b>``, ``<i>``,
    ``<a href>`` and line breaks; every other tag is dropped, every text escaped."""

    KEEP: ClassVar[dict[str, str]] = {"b": "b", "strong": "b", "i": "i", "em": "i"}
    BREAKS = frozenset({"br", "p", "div", "li", "ul", "ol"})
    DROP = frozenset({"iframe", "img", "script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.DROP:
            self.dropping += tag not in ("img",)
            return
        if tag in self.BREAKS:
            self.out.append("\n" if tag == "br" else "\n\n")
            if tag == "li":
                self.out.append("• ")
        elif tag in self.KEEP:
            self._open(self.KEEP[tag], f"<{self.KEEP[tag]}>")
        elif tag == "a":
            href = SAFE_URL.search(" ".join(v or "" for k, v in attrs if k == "href"))
            if href:
                self._open("a", f'<a href="{escape(href.group(0))}">')

    def _open(self, tag: str, markup: str) -> None:
        if tag in self.open:  # no nesting of the same tag
            return
        self.open.append(tag)
        self.out.append(markup)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.DROP:
            self.dropping = max(0, self.dropping - 1)
            return
        name = self.KEEP.get(tag, tag)
        if name in self.open:
            while self.open:
                closing = self.open.pop()
                self.out.append(f"</{closing}>")
                if closing == name:
                    break

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


def clean_text(raw: str) -> str:
    """The source text (Markdown-ish, sometimes HTML) as Telegram HTML."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = MARKDOWN_LINK.sub(lambda m: f'<a href="{m[2]}">{m[1]}</a>', text)
    text = MARKDOWN_BOLD.sub(r"<b>\1</b>", text)
    text = re.sub(r"^\s*[-*] +", "• ", text, flags=re.M)
    parser = _TelegramHtml()
    parser.feed(text)
    html = parser.result()
    html = SITE_ONLY.sub("", MAP_BELOW.sub(MAP_TEXT, html))
    html = MORE.sub(lambda m: ("voir la " if m[0].startswith("voir") else "") + MORE_TEXT, html)
    html = re.sub(r"[ \t\u00a0]+", " ", html)
    html = re.sub(r" *\n *", "\n", html)
    html = re.sub(r"\n{3,}", "\n\n", html)
    html = re.sub(r"<(b|i)>(\s*)</\1>", r"\2", html)
    return html.strip()


def _name(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Item:
    """One object as shipped."""

    key: str
    name: str
    source: str
    """The ADEME ``produit`` it comes from (its own name for a kept ``produit``)."""
    what: str = ""
    good: str = ""
    bad: str = ""
    names: dict[str, str] = field(default_factory=dict)
    """Normalised key → name people search by (French, from the source)."""

    def add_name(self, name: str) -> None:
        name = _name(name)
        if name and slug(name) and slug(name) not in self.names:
            self.names[slug(name)] = name


def _texts(fields: dict[str, Any]) -> tuple[str, str, str]:
    what, good, bad = (clean_text(fields.get(k) or "") for k in TEXTS)
    return what, good, bad


@dataclass
class Built:
    """The items and what the build left out, for SOURCES.md."""

    items: dict[str, Item]
    internal: list[str]
    dropped_names: list[str]


def _load(folder: Path, name: str) -> list[dict[str, Any]]:
    with (folder / name).open(encoding="utf-8") as handle:
        rows: list[dict[str, Any]] = json.load(handle)
    return rows


def _synonym_target(
    fields: dict[str, Any], produits: dict[str, dict[str, Any]], items: dict[str, Item]
) -> Item | None:
    """The object a synonym names: its parent's when it has no text of its own, an object of
    the same name, or a new object with its own texts (``None``: no text anywhere)."""
    parent_name = fields["produit"][0]
    if parent_name in NOT_OBJECTS:
        return None
    good, bad = (clean_text(fields.get(k) or "") for k in TEXTS[1:])
    key = slug(fields["nom"])
    if not (good or bad) and slug(parent_name) in items:
        return items[slug(parent_name)]
    if key in items:  # an object of the same name already exists: the name joins it
        return items[key]
    what, parent_good, parent_bad = _texts(produits[parent_name])
    if good or bad:
        what = "" if good and bad else what
        good, bad = good or parent_good, bad or parent_bad
    else:
        good, bad = parent_good, parent_bad
    if not (what or good or bad):
        return None
    items[key] = Item(key, _name(fields["nom"]), parent_name, what, good, bad)
    return items[key]


def collect(folder: Path) -> Built:
    """Objects with their texts and French names, before the review file is applied."""
    produits = {row["fields"]["nom"]: row["fields"] for row in _load(folder, "produits.json")}
    rows = _load(folder, "synonymes.json")
    variants = {
        row["pk"]: row["fields"].get("search_variants") or ""
        for row in rows
        if row["model"] == "search.searchterm"
    }
    synonyms = sorted(
        (
            row["fields"]
            for row in rows
            if row["model"] == "qfdmd.synonyme" and row["fields"]["nom"]
        ),
        key=lambda f: (f["nom"], f["produit"][0]),
    )
    internal = sorted(n for n, f in produits.items() if INTERNAL.search(n) or not any(_texts(f)))
    items: dict[str, Item] = {}
    for name in sorted(set(produits) - set(internal)):
        item = Item(slug(name), _name(name), name, *_texts(produits[name]))
        item.add_name(name)
        items[item.key] = item
    dropped: list[str] = []
    for fields in synonyms:
        target = _synonym_target(fields, produits, items)
        if target is None:
            dropped.append(fields["nom"])
            continue
        target.add_name(fields["nom"])
        for variant in re.split(r"[,\n]", variants.get(fields.get("searchterm_ptr"), "")):
            target.add_name(variant)
    for name in sorted(set(produits) - set(internal)):
        for other in produits[name]["synonymes_existants"].split(" / "):
            if slug(other) and not any(slug(other) in item.names for item in items.values()):
                items[slug(name)].add_name(other)
    return Built(items, internal, dropped)


@dataclass(frozen=True)
class Review:
    """One row of ``items_review.csv``."""

    category: str
    english: tuple[str, ...]
    french: tuple[str, ...] = ()
    """Names people use that the source lacks ("Masque chirurgical")."""


def read_review(path: Path = REVIEW) -> dict[str, Review]:
    """Reviewed category, English names and extra French names by object name (or by the
    ADEME parent of objects that inherit its category)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    review: dict[str, Review] = {}
    for row in rows:
        category = row["category"].strip()
        if category and category not in CATEGORIES:
            raise SystemExit(f"{path.name}: unknown category {category!r} for {row['object']!r}")
        english, french = (
            tuple(n.strip() for n in row[column].split(" / ") if n.strip())
            for column in ("english", "french")
        )
        review[row["object"]] = Review(category, english, french)
    return review


def _record(item: Item, review: dict[str, Review]) -> dict[str, Any]:
    own = review.get(item.name)
    parent = review.get(item.source)
    category = (own or parent or Review("", ())).category
    english = own.english if own else ()
    for name in own.french if own else ():
        item.add_name(name)
    return {
        "key": item.key,
        "name": item.name,
        "name_en": english[0] if english else None,
        "category": category or None,
        "what": item.what,
        "good": item.good,
        "bad": item.bad,
        "names": sorted(item.names.values(), key=lambda n: (slug(n), n)),
        "names_en": list(english),
    }


def write(records: Iterable[dict[str, Any]], path: Path = ITEMS) -> int:
    """One object per line, sorted by key: small diffs when the source changes."""
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    return len(lines)


def build(folder: Path, out: Path = ITEMS) -> None:
    """Write ``items.json``; unknown review rows stop the build (a renamed object)."""
    built = collect(folder)
    review = read_review()
    known = {i.name for i in built.items.values()} | {i.source for i in built.items.values()}
    stale = sorted(set(review) - known)
    if stale:
        raise SystemExit(f"{REVIEW.name}: no such object: {stale}")
    records = [_record(built.items[key], review) for key in sorted(built.items)]
    count = write(records, out)
    names = sum(len(r["names"]) for r in records)
    with_category = sum(1 for r in records if r["category"])
    english = sum(1 for r in records if r["name_en"])
    print(
        f"items.json: {count} objects, {names} French names, {with_category} with a category, "
        f"{english} with English names; left out: {len(built.internal)} internal categories, "
        f"{len(built.dropped_names)} names without any text",
        file=sys.stderr,
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder with produits.json and synonymes.json")
    build(parser.parse_args().folder)


if __name__ == "__main__":
    main()
