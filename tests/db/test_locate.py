"""Shared locations to départements: inside an outline, on a coast or a border, elsewhere."""

from __future__ import annotations

import math

import pytest

from db import locate
from db.data.build_outlines import encode_ring


@pytest.mark.parametrize(
    ("place", "latitude", "longitude", "code"),
    [
        ("Bordeaux", 44.8378, -0.5792, "33"),
        ("Ajaccio", 41.9192, 8.7386, "2A"),
        ("Bastia", 42.6973, 9.4509, "2B"),
        ("Saint-Denis, La Réunion", -20.8823, 55.4504, "974"),
        ("Mamoudzou, Mayotte", -12.7806, 45.2279, "976"),
        ("Cayenne", 4.9224, -52.3135, "973"),
        ("Paris", 48.8566, 2.3522, "75"),
        ("Saint-Denis, Seine-Saint-Denis", 48.9362, 2.3574, "93"),
        ("Lacanau, 1 km out in the ocean", 45.0017, -1.215, "33"),
        ("Promenade des Anglais, in the sea", 43.690, 7.255, "06"),
    ],
)
def test_points_in_or_near_a_departement(
    place: str, latitude: float, longitude: float, code: str
) -> None:
    assert locate.department_at(latitude, longitude) == code, place


@pytest.mark.parametrize(
    ("place", "latitude", "longitude"),
    [
        ("Bay of Biscay", 45.5, -3.0),
        ("Madrid", 40.4168, -3.7038),
        ("Geneva", 46.2044, 6.1432),
        ("Null Island", 0.0, 0.0),
        ("Not a latitude", 91.0, 2.0),
        ("Not a number", math.nan, 2.0),
    ],
)
def test_points_elsewhere_have_none(place: str, latitude: float, longitude: float) -> None:
    assert locate.department_at(latitude, longitude) is None, place


def test_the_fallback_only_reaches_so_far() -> None:
    offshore = (45.0017, -1.215)  # outside every outline, about 1 km from the coast
    assert locate.department_at(*offshore, within_km=0) is None
    assert locate.department_at(*offshore, within_km=locate.NEAREST_KM) == "33"


def test_rings_round_trip_through_the_encoding() -> None:
    ring = [(-0.5792, 44.8378), (-0.5, 44.9), (0.1234, -20.5), (-0.5792, 44.8378)]
    assert [tuple(p) for p in locate.decode_ring(encode_ring(ring), 10_000).tolist()] == ring


def test_haversine() -> None:
    assert round(locate.haversine_km(48.8566, 2.3522, 44.8378, -0.5792)) == 499
