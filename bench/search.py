"""Item search and shared locations: index build time, search time, hit@1/hit@3 on the query
table of ``tests/db/search_queries.py``, and point-in-polygon time per location.

Usage: ``python bench/search.py [--rounds 20]`` (pinned to one core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from db import locate  # noqa: E402
from db.matcher import Matcher  # noqa: E402
from db.reference import items  # noqa: E402
from tests.db.search_queries import ENGLISH, FRENCH  # noqa: E402

PLACES = (
    (44.8378, -0.5792),  # Bordeaux
    (41.9192, 8.7386),  # Ajaccio
    (-20.8823, 55.4504),  # Saint-Denis, La Réunion
    (48.8566, 2.3522),  # Paris
    (45.7640, 4.8357),  # Lyon
    (43.2951, 5.3745),  # Marseille
    (45.0017, -1.2150),  # in the ocean off Lacanau (nearest-outline fallback)
    (43.6900, 7.2550),  # in the sea off Nice (fallback)
    (45.5000, -3.0000),  # Bay of Biscay (none)
    (40.4168, -3.7038),  # Madrid (none)
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def _timed(call: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _each(call: Callable[..., object], arguments: list[tuple[Any, ...]]) -> list[float]:
    """The time of ``call(*args)`` for each of ``arguments``."""
    times = []
    for args in arguments:
        started = time.perf_counter()
        call(*args)
        times.append(time.perf_counter() - started)
    return times


def _report(what: str, times: list[float]) -> None:
    ordered = sorted(times)
    print(
        f"{what}, median of {len(times):<6} {_ms(statistics.median(times))}"
        f"  (p95 {_ms(ordered[int(0.95 * len(ordered))])}, max {_ms(ordered[-1])})"
    )


def build() -> tuple[Matcher, list[str], float]:
    """The matcher over the shipped names, as the bot builds it from its tables."""
    records = items()
    names = [(i, "fr", n) for i, r in enumerate(records) for n in r["names"]]
    names += [(i, "en", n) for i, r in enumerate(records) for n in r["names_en"]]
    common = [i for i, r in enumerate(records) if r["name_en"]]
    titles = {i: [r["name"], *r["names_en"][:1]] for i, r in enumerate(records)}
    times = _timed(lambda: Matcher.build(names, common, titles), 5)
    return Matcher.build(names, common, titles), [r["name"] for r in records], min(times)


def hits(matcher: Matcher, names: list[str], table: tuple[tuple[str, str], ...], lang: str) -> str:
    """hit@1 and hit@3 of one language's table."""
    first = third = 0
    for query, expected in table:
        found = [names[m.item_id] for m in matcher.search(query, lang).matches]
        first += found[:1] == [expected]
        third += expected in found[:3]
    return f"hit@1 {first / len(table):.3f}  hit@3 {third / len(table):.3f}  ({len(table)} queries)"


def main() -> None:
    """Print the figures recorded in BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"machine: {describe()}, pinned to one core")
    matcher, names, built = build()
    print(f"index build ({len(matcher)} names)        {_ms(built)}")
    queries = [(q, "fr") for q, _ in FRENCH] + [(q, "en") for q, _ in ENGLISH]
    _report("search", _each(matcher.search, queries * args.rounds))
    print(f"French   {hits(matcher, names, FRENCH, 'fr')}")
    print(f"English  {hits(matcher, names, ENGLISH, 'en')}")
    started = time.perf_counter()
    locate.load()
    print(f"outlines load (101 départements)   {_ms(time.perf_counter() - started)}")
    _report("point-in-polygon", _each(locate.department_at, list(PLACES) * 200))


if __name__ == "__main__":
    main()
