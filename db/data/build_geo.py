"""Derive the géographie CSVs of ``db/data/`` from ``@etalab/decoupage-administratif``.

Offline, stdlib only; nothing fetches the package at run time. To rebuild::

    cd /work/scratch/refdata && npm pack @etalab/decoupage-administratif@6.0.0
    tar xzf etalab-decoupage-administratif-6.0.0.tgz
    python db/data/build_geo.py /work/scratch/refdata/package

The argument is the extracted package directory (the one holding ``data/``).
Only zones ``metro`` and ``drom`` are kept; see ``SOURCES.md`` for the formats.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent
ZONES = frozenset({"metro", "drom"})
ALIAS_KINDS = {
    "commune-deleguee": "deleguee",
    "commune-associee": "associee",
    "arrondissement-municipal": "arrondissement",
}


def _load(package: Path, name: str) -> list[dict[str, Any]]:
    with (package / "data" / name).open(encoding="utf-8") as fh:
        rows: list[dict[str, Any]] = json.load(fh)
    return [row for row in rows if row.get("zone") in ZONES]


def _write(name: str, header: list[str], rows: list[list[str]]) -> None:
    with (OUT / name).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"{name}: {len(rows)} rows")


def build(package: Path) -> None:
    """Write regions.csv, departements.csv, communes.csv and commune_aliases.csv."""
    regions = sorted([r["code"], r["nom"]] for r in _load(package, "regions.json"))
    departements = sorted(
        [d["code"], d["nom"], d["region"]] for d in _load(package, "departements.json")
    )
    communes = _load(package, "communes.json")
    current = sorted(
        [c["code"], c["nom"], c["departement"], " ".join(sorted(c.get("codesPostaux", [])))]
        for c in communes
        if c["type"] == "commune-actuelle"
    )
    parent_names = {row[0]: row[1] for row in current}
    aliases = sorted(
        [c["code"], c["nom"], c["departement"], ALIAS_KINDS[c["type"]], parent]
        for c in communes
        if c["type"] in ALIAS_KINDS
        and (parent := c.get("chefLieu") or c.get("commune", "")) in parent_names
        and c["nom"] != parent_names[parent]
    )
    _write("regions.csv", ["code", "name"], regions)
    _write("departements.csv", ["code", "name", "region"], departements)
    _write("communes.csv", ["insee", "name", "departement", "postal_codes"], current)
    _write("commune_aliases.csv", ["insee", "name", "departement", "kind", "commune"], aliases)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="extracted npm package directory")
    build(parser.parse_args().package)


if __name__ == "__main__":
    main()
