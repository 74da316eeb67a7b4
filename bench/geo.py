"""Speed of the département resolver: loading the reference data, then resolving free text.

Usage: ``python bench/geo.py [--rounds 200]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from db import geo  # noqa: E402

SAMPLES = ("Bordeaux", "33000", "cotes d armor", "st etienne", "Atlantis", "Saint-Denis")
"""A city, a postal code, a name without accents, an abbreviation, nothing, an ambiguity."""


def main() -> None:
    """Print the load time and the per-call resolve time (median of the samples)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    geo.departments()
    print(f"load (départements + communes)  {(time.perf_counter() - started) * 1000:8.1f} ms")
    for text in SAMPLES:
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            geo.resolve_department(text)
            times.append(time.perf_counter() - started)
        print(f"resolve {text!r:18}  median {statistics.median(times) * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
