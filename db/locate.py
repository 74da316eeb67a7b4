"""Which département a point (a shared location) is in: point-in-polygon on the shipped outlines.

The outlines (``db/data/departements_outlines.json``, see ``db/data/SOURCES.md``) are loaded
once, lazily, into an STRtree of prepared polygons. A point outside every outline but within
``NEAREST_KM`` of one (a beach, a harbour, a GPS fix just across a border) takes the nearest
département; anything farther (at sea, abroad) has none. Coordinates are never stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

OUTLINES = Path(__file__).resolve().parent / "data" / "departements_outlines.json"
NEAREST_KM = 3.0
"""How far outside every outline a point still takes the nearest département."""
EARTH_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_KM / 180


def decode_ring(encoded: str, scale: int) -> npt.NDArray[np.float64]:
    """An encoded polyline (lat/lon deltas in ``1/scale`` degrees) as (lon, lat) rows.

    Vectorised: each 5-bit chunk is shifted into place and the chunks of a number summed."""
    chunks = np.frombuffer(encoded.encode("ascii"), dtype=np.uint8).astype(np.int64) - 63
    ends = chunks < 0x20
    starts = np.flatnonzero(np.concatenate(([True], ends[:-1])))
    position = np.arange(len(chunks)) - np.repeat(starts, np.diff(np.append(starts, len(chunks))))
    values = np.add.reduceat((chunks & 0x1F) << (5 * position), starts)
    numbers = np.where(values & 1, ~(values >> 1), values >> 1)
    lat_lon = np.cumsum(numbers.reshape(-1, 2), axis=0) / scale
    return np.ascontiguousarray(lat_lon[:, ::-1])


@dataclass(frozen=True)
class _Outlines:
    codes: tuple[str, ...]
    tree: shapely.STRtree


@cache
def _outlines() -> _Outlines:
    document = json.loads(OUTLINES.read_text(encoding="utf-8"))
    scale = int(document["scale"])
    codes: list[str] = []
    shapes: list[MultiPolygon] = []
    for code, polygons in sorted(document["departements"].items()):
        parts = [
            Polygon(decode_ring(rings[0], scale), [decode_ring(r, scale) for r in rings[1:]])
            for rings in polygons
        ]
        geometry = MultiPolygon(parts)
        shapely.prepare(geometry)
        codes.append(code)
        shapes.append(geometry)
    return _Outlines(tuple(codes), shapely.STRtree(shapes))


def load() -> None:
    """Build the index now (at start) rather than on the first shared location."""
    _outlines()


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def valid_point(latitude: float, longitude: float) -> bool:
    """Finite WGS84 coordinates."""
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    )


def department_at(latitude: float, longitude: float, within_km: float = NEAREST_KM) -> str | None:
    """The INSEE code of the département at this point, or of the nearest one within
    ``within_km``; ``None`` elsewhere (at sea, abroad) or for invalid coordinates."""
    if not valid_point(latitude, longitude):
        return None
    outlines = _outlines()
    point = Point(longitude, latitude)
    for index in sorted(outlines.tree.query(point)):
        if shapely.contains_xy(outlines.tree.geometries[int(index)], longitude, latitude):
            return outlines.codes[int(index)]
    # Degrees of longitude shrink with latitude: search wide enough, then measure on the sphere.
    lat_reach = within_km / KM_PER_DEGREE
    lon_reach = lat_reach / max(math.cos(math.radians(latitude)), 0.01)
    area = shapely.box(
        longitude - lon_reach, latitude - lat_reach, longitude + lon_reach, latitude + lat_reach
    )
    best: tuple[float, str] | None = None
    for index in outlines.tree.query(area):
        geometry = outlines.tree.geometries[int(index)]
        nearest = shapely.shortest_line(point, geometry).coords[-1]
        km = haversine_km(latitude, longitude, nearest[1], nearest[0])
        if km <= within_km and (best is None or km < best[0]):
            best = (km, outlines.codes[int(index)])
    return best[1] if best else None
