"""Find objects by the name a user types: strings in, ranked matches out.

Pure Python over rapidfuzz (no database, no Telegram): :meth:`Matcher.build` indexes every
(item id, language, name) once; :meth:`Matcher.search` forgives case, accents, punctuation,
plurals, word order, missing or extra words, typos of one or two letters, the abbreviations
people type ("ordi", "frigo", "alu") and prefixes ("plast").

Scoring works on words. Each query word is matched to the index's words (exactly, through an
abbreviation, as a prefix, or within a small edit distance, each with its own similarity);
a name scores by how much of the query it covers and how much of itself the query covers,
both weighted by how rare each word is (a rare word says more than a common one).
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz.distance import OSA

MAX_MATCHES = 5
THRESHOLD = 60.0
"""Below this score (0–100) a name is not a match."""
SUGGEST = 45.0
"""Names between this and ``THRESHOLD`` are offered as suggestions when nothing matches."""
CLOSE = 6.0
"""Matches within this many points of the best one are shown as choices."""
MAX_QUERY_CHARS = 120
MAX_QUERY_WORDS = 8
MIN_QUERY_COVERAGE = 0.5
"""At least this share of the query's weight must be found in a name."""
OTHER_LANGUAGE = 2.0
"""Points off for a name in the other language (English users also get the French names)."""
COMMON = 3.0
"""Points for an everyday object (one with an English name): puts it first among near-ties."""
QUERY_SHARE = 0.8
"""The score is this much the share of the query found, the rest the share of the name."""
ASIDE_ONLY = 0.8
"""A name matched only through its parentheses scores this share: « salut » is not
« Matériel d'athlétisme (haie, …, saut…) »."""
ASIDE_WEIGHT = 0.3
"""Words in parentheses ("Pot en plastique (yaourt, crème fraîche)") count this much in the
share of the name a query covers: they help a name match without making it long."""
_NEGATED = re.compile(r"\((?:hors|sauf|non)[ -][^)]*\)", re.IGNORECASE)
"""Asides that name what the object is not: "Caoutchouc (hors pneus)"."""
_NOT_WORD = re.compile(r"\bnon[ -]+\w+", re.IGNORECASE)
_ASIDE = re.compile(r"\(([^)]*)\)")

_WORD = re.compile(r"[a-z0-9]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "'": " ", "’": " "})


def _word_set(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


STOPWORDS = _word_set(
    # French articles, prepositions, pronouns and the verbs of a question
    "a au aux avec c ce ces cet cette comment d dans de des du en est et il j je jeter jete",
    "l la le les leur leurs ma mes mon n ne nos notre ou par pas pour quand que quel quelle",
    "qu quoi sa sans se ses son sur ta tes ton trier un une vos votre y faire fait recycler",
    "poubelle jette",
    # English
    "an and do does for how i in into is it my of on or the throw away to where which with",
    "recycle dispose bin what aide help",
    # greetings and thanks: a chat, not an object
    "salut bonjour bonsoir coucou merci hello hi thanks thank you ok oui yes please stp svp",
)
"""Words that do not say which object: dropped from queries and names alike ("poubelle" and
"bin" are only dropped from queries, see :data:`QUERY_ONLY`)."""
QUERY_ONLY = frozenset(
    {"poubelle", "bin", "jeter", "jette", "recycler", "trier", "throw", "aide", "help"}
    | {"salut", "bonjour", "bonsoir", "coucou", "merci", "hello", "hi", "thanks", "thank"}
    | {"you", "ok", "oui", "yes", "please", "stp", "svp"}
)
QUALIFIERS = _word_set(
    "usage usagee use usee vieux vieille vieil ancien ancienne casse cassee abime abimee",
    "vide plein pleine petit petite grand grande gros grosse neuf neuve perime perimee",
    "pourri pourrie moisi moisie mort morte",
    "old used empty broken full small big large new expired dirty sale rotten dead",
)
"""Words about the object's state, not the object: they weigh little."""
QUALIFIER_WEIGHT = 0.25
UNKNOWN_WEIGHT = 0.6
"""A query word the index does not know weighs this share of an average word."""
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "ordi": ("ordinateur",),
    "frigo": ("refrigerateur",),
    "alu": ("aluminium",),
    "tele": ("television", "televiseur"),
    "tel": ("telephone",),
    "portable": ("telephone", "mobile"),
    "gsm": ("telephone", "mobile"),
    "clim": ("climatiseur",),
    "medoc": ("medicament",),
    "cachet": ("medicament",),
    "yogourt": ("yaourt",),
    "yoghourt": ("yaourt",),
    "yogurt": ("yoghurt",),
    "clope": ("cigarette",),
    "sopalin": ("essuie", "tout"),
    "kleenex": ("mouchoir",),
    "nespresso": ("capsule",),
    "tupperware": ("boite", "plastique"),
    "bic": ("stylo",),
    "pq": ("papier", "toilette"),
    "appart": ("appartement",),
    "velo": ("velo",),
    "pc": ("ordinateur",),
    "hifi": ("hi", "fi"),
    "tv": ("television",),
    "telly": ("television",),
    "fridge": ("refrigerator",),
    "aluminum": ("aluminium",),
    "phone": ("mobile", "phone"),
    "voiture": ("automobile",),
    "auto": ("automobile",),
}
"""Words users type for longer ones (after normalisation, singular)."""
ABBREVIATION_SIMILARITY = 0.95
TYPO_COST = 0.15
"""Similarity lost per edit: a word with a typo counts less than the same word spelt right."""
PREFIX_SIMILARITY = 0.85
MIN_PREFIX = 4
TYPO_PREFIX = 7
LONG_WORD = 6
"""Words longer than this may have two typos; shorter ones (of four letters or more) one."""


def _deletions(word: str, depth: int) -> set[str]:
    """``word`` with up to ``depth`` letters deleted: two words within ``depth`` edits share
    one of these (the symmetric-delete index that finds typo candidates without comparing
    the query with every word; rapidfuzz then measures the real distance). Only the first
    :data:`TYPO_PREFIX` letters are used, which keeps the index small."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def normalize(text: str) -> str:
    """Lower case, no accents, punctuation as spaces: ``"Pot-de-Yaourt !"`` → ``pot de yaourt``."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text))


def singular(word: str) -> str:
    """A crude French/English singular: enough to make plurals and singulars meet."""
    if len(word) > 4 and word.endswith("aux"):
        return word[:-3] + "al"
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word[-1] in "sx" and word[-2] not in "su":
        return word[:-1]
    return word


def words(text: str, *, query: bool = False) -> list[str]:
    """The meaningful words of ``text``, singular, stopwords left out."""
    out: list[str] = []
    for word in normalize(text).split():
        if word in STOPWORDS and (query or word not in QUERY_ONLY):
            continue
        out.append(singular(word))
    return out


@dataclass(frozen=True)
class Match:
    """One object found for a query."""

    item_id: int
    name: str
    """The name that matched (French or English)."""
    score: float


@dataclass(frozen=True)
class Result:
    """The best matches (at most :data:`MAX_MATCHES`) and, when there are none, close names."""

    matches: tuple[Match, ...]
    suggestions: tuple[Match, ...] = ()

    @property
    def clear(self) -> Match | None:
        """The match to show directly: the only one within :data:`CLOSE` of the best."""
        if not self.matches:
            return None
        best = self.matches[0]
        if len(self.matches) > 1 and self.matches[1].score >= best.score - CLOSE:
            return None
        return best


@dataclass(frozen=True)
class _Name:
    item_id: int
    text: str
    language: str
    words: tuple[str, ...]
    aside: tuple[bool, ...]
    """Per word: whether it stands in parentheses."""
    title: bool
    """Whether this is the item's own name (it goes first when two items share a name)."""
    joins: tuple[tuple[str, int, int], ...]
    """Two adjacent words written as one ("tshirt", "microonde")."""


def _name_words(text: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """A name's words, and which of them stand in parentheses; what the object is not
    ("(hors pneus)", "non électrique") is left out."""
    text = _NOT_WORD.sub(" ", _NEGATED.sub(" ", text))
    found: list[str] = []
    aside: list[bool] = []
    position = 0
    for part in _ASIDE.finditer(text):
        for chunk, inside in ((text[position : part.start()], False), (part.group(1), True)):
            chunk_words = words(chunk)
            found.extend(chunk_words)
            aside.extend([inside] * len(chunk_words))
        position = part.end()
    tail = words(text[position:])
    found.extend(tail)
    aside.extend([False] * len(tail))
    return tuple(found), tuple(aside)


class Matcher:
    """An index of names, built once; thread-safe to search."""

    def __init__(self, names: list[_Name], common: frozenset[int]) -> None:
        self._names = names
        self._common = common
        postings: dict[str, list[int]] = defaultdict(list)
        for index, name in enumerate(names):
            for word in {*name.words, *(j[0] for j in name.joins)}:
                postings[word].append(index)
        self._postings = dict(postings)
        plain = {word for name in names for word in name.words}
        self._plain = sorted(plain)
        deletions: dict[str, set[str]] = defaultdict(set)
        for word in plain:
            if len(word) >= MIN_PREFIX - 1:
                depth = 2 if len(word) > LONG_WORD - 2 else 1
                for variant in _deletions(word[:TYPO_PREFIX], depth):
                    deletions[variant].add(word)
        self._deletions = dict(deletions)
        total = max(len(names), 1)
        self._weight = {w: math.log(1 + total / len(p)) for w, p in postings.items()}
        mean = sum(self._weight.values()) / max(len(self._weight), 1)
        self._unknown_weight = UNKNOWN_WEIGHT * mean
        counts: dict[int, int] = defaultdict(int)
        for name in names:
            counts[name.item_id] += 1
        self._name_count = dict(counts)

    @classmethod
    def build(
        cls,
        names: Iterable[tuple[int, str, str]],
        common: Iterable[int] = (),
        titles: Mapping[int, Iterable[str]] | None = None,
    ) -> Matcher:
        """Index ``(item id, language, name)`` triples. ``common`` items get a few points
        (everyday objects first); ``titles`` are each item's own names, which go first when
        several items share a name."""
        own = {item: set(found) for item, found in (titles or {}).items()}
        entries: list[_Name] = []
        seen: set[tuple[int, str, tuple[str, ...]]] = set()
        # Titles first: of two names with the same words ("battery", "batteries") the title stays.
        for item_id, language, text in sorted(names, key=lambda n: n[2] not in own.get(n[0], ())):
            found, aside = _name_words(text)
            if not found or (item_id, language, found) in seen:
                continue
            seen.add((item_id, language, found))
            joins = tuple(
                (found[i] + found[i + 1], i, i + 1)
                for i in range(len(found) - 1)
                if len(found[i]) + len(found[i + 1]) >= MIN_PREFIX
            )
            title = text in own.get(item_id, ())
            entries.append(_Name(item_id, text, language, found, aside, title, joins))
        return cls(entries, frozenset(common))

    def __len__(self) -> int:
        return len(self._names)

    def _weight_of(self, word: str, similar: dict[str, float] | None = None) -> float:
        """How much a word says: rare words more; a query word unknown to the index takes
        its closest words' weight, or a modest one (an extra word should not sink a match)."""
        if word in self._weight:
            base = self._weight[word]
        elif similar:
            base = max(self._weight[w] * s for w, s in similar.items())
        else:
            base = self._unknown_weight
        return base * QUALIFIER_WEIGHT if word in QUALIFIERS else base

    def _similar(self, word: str) -> dict[str, float]:
        """Index words close to one query word, with their similarity (0–1)."""
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = 1.0
        for expansion in ABBREVIATIONS.get(word, ()):
            if expansion in self._postings:
                found[expansion] = max(found.get(expansion, 0.0), ABBREVIATION_SIMILARITY)
        if len(word) >= MIN_PREFIX:
            start = bisect.bisect_left(self._plain, word)
            for other in self._plain[start : start + 50]:
                if not other.startswith(word):
                    break
                found.setdefault(other, PREFIX_SIMILARITY)
            edits = 1 if len(word) <= LONG_WORD else 2
            variants = _deletions(word[:TYPO_PREFIX], edits)
            close = {o for v in variants for o in self._deletions.get(v, ())}
            for other in close:
                distance = OSA.distance(word, other, score_cutoff=edits)
                if 0 < distance <= edits and len(other) >= MIN_PREFIX:
                    found[other] = max(found.get(other, 0.0), 1.0 - TYPO_COST * distance)
        return found

    def _score(
        self, name: _Name, query: list[tuple[float, dict[str, float]]], language: str
    ) -> tuple[float, float]:
        """(score, share of the query found) of one name; the score is about 0–100."""
        covered = [0.0] * len(name.words)
        found = total = 0.0
        for weight, similar in query:
            best = 0.0
            for position, word in enumerate(name.words):
                similarity = similar.get(word, 0.0)
                if similarity:
                    best = max(best, similarity)
                    covered[position] = max(covered[position], similarity)
            for joined, left, right in name.joins:
                similarity = similar.get(joined, 0.0)
                if similarity:
                    best = max(best, similarity)
                    for position in (left, right):
                        covered[position] = max(covered[position], similarity)
            found += weight * best
            total += weight
        query_share = found / total if total else 0.0
        weights = [
            self._weight_of(w) * (ASIDE_WEIGHT if aside else 1.0)
            for w, aside in zip(name.words, name.aside, strict=True)
        ]
        name_share = sum(w * c for w, c in zip(weights, covered, strict=True)) / sum(weights)
        score = 100 * (QUERY_SHARE * query_share + (1 - QUERY_SHARE) * name_share)
        if not any(c for c, aside in zip(covered, name.aside, strict=True) if not aside):
            score *= ASIDE_ONLY
        if name.language != language:
            score -= OTHER_LANGUAGE
        if name.item_id in self._common:
            score += COMMON
        return score, query_share

    def search(self, text: str, language: str = "fr", limit: int = MAX_MATCHES) -> Result:
        """The objects named like ``text`` for a user speaking ``language`` (``fr`` users
        search French names only; ``en`` users English names first, then French ones)."""
        if not isinstance(text, str):
            return Result(())
        query_words = list(dict.fromkeys(words(text[:MAX_QUERY_CHARS], query=True)))
        query_words = query_words[:MAX_QUERY_WORDS]
        if not query_words:
            return Result(())
        query: list[tuple[float, dict[str, float]]] = []
        candidates: set[int] = set()
        for word in query_words:
            similar = self._similar(word)
            query.append((self._weight_of(word, similar), similar))
            for other in similar:
                candidates.update(self._postings[other])
        best: dict[int, tuple[float, bool, Match]] = {}
        for index in candidates:
            name = self._names[index]
            if language == "fr" and name.language != "fr":
                continue
            score, share = self._score(name, query, language)
            if share < MIN_QUERY_COVERAGE or score < SUGGEST:
                continue
            known = best.get(name.item_id)
            if known is None or (score, name.title, -len(name.text)) > (
                known[0],
                known[1],
                -len(known[2].name),
            ):
                match = Match(name.item_id, name.text, round(min(score, 100.0), 1))
                best[name.item_id] = (score, name.title, match)
        ranked = [
            match
            for _, _, match in sorted(
                best.values(),
                key=lambda found: (
                    -round(found[0], 6),
                    not found[1],
                    -self._name_count.get(found[2].item_id, 0),
                    len(found[2].name),
                    found[2].name,
                ),
            )
        ]
        matches = tuple(m for m in ranked if m.score >= THRESHOLD)[:limit]
        if matches:
            return Result(matches)
        return Result((), tuple(ranked[:limit]))
