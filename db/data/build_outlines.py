"""Derive ``db/data/departements_outlines.json`` from the france-geojson outlines.

Offline; nothing reads the GeoJSON at run time. To rebuild::

    python db/data/build_outlines.py ../shared/datasets/departements-geojson

Each département's outline is simplified (Douglas-Peucker, ``TOLERANCE`` degrees, topology
kept), snapped to a ``1 / SCALE`` degree grid (about 11 m) and written as Google
encoded-polyline strings, one per ring (outer ring first). See ``SOURCES.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

OUT = Path(__file__).resolve().parent / "departements_outlines.json"
SOURCE = "departements-avec-outre-mer.geojson"
TOLERANCE = 0.0005
"""Degrees (about 55 m in latitude): the simplified outline stays within ~60 m of the source."""
SCALE = 10_000
"""Coordinates are stored as integers of 1/SCALE degree."""


def _encode_number(value: int) -> Iterator[str]:
    value = ~(value << 1) if value < 0 else value << 1
    while value >= 0x20:
        yield chr((0x20 | (value & 0x1F)) + 63)
        value >>= 5
    yield chr(value + 63)


def encode_ring(coords: list[tuple[float, float]]) -> str:
    """A ring's (lon, lat) points as an encoded polyline of lat/lon deltas."""
    out: list[str] = []
    last_lat = last_lon = 0
    for lon, lat in coords:
        ilat, ilon = round(lat * SCALE), round(lon * SCALE)
        out.extend(_encode_number(ilat - last_lat))
        out.extend(_encode_number(ilon - last_lon))
        last_lat, last_lon = ilat, ilon
    return "".join(out)


def _polygons(geometry: Polygon | MultiPolygon) -> list[Polygon]:
    return list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]


def build(folder: Path, out: Path = OUT) -> None:
    """Write the outlines file."""
    with (folder / SOURCE).open(encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    outlines: dict[str, list[list[str]]] = {}
    points = 0
    for feature in sorted(features, key=lambda f: f["properties"]["code"]):
        geometry = shape(feature["geometry"])
        simple = shapely.set_precision(
            shapely.simplify(geometry, TOLERANCE, preserve_topology=True), 1 / SCALE
        )
        rings = []
        for part_of in _polygons(simple):
            polygon = shapely.geometry.polygon.orient(part_of)
            parts = [polygon.exterior, *polygon.interiors]
            points += sum(len(part.coords) for part in parts)
            rings.append([encode_ring(list(part.coords)) for part in parts])
        outlines[feature["properties"]["code"]] = rings
    document = {"scale": SCALE, "departements": outlines}
    out.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{out.name}: {len(outlines)} départements, {points} points", file=sys.stderr)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder holding " + SOURCE)
    build(parser.parse_args().folder)


if __name__ == "__main__":
    main()
