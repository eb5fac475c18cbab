"""Distances and the grid cells candidate lookup is keyed on.

A cell is CELL_DEG degrees square; a mention looks up its own cell and the
eight around it, so any incident within CELL_DEG (about 50 km at Libya's
latitudes) of one of its places is a candidate, and nothing far away is read.
"""

from __future__ import annotations

from math import asin, cos, floor, radians, sin, sqrt

CELL_DEG = 0.5


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres (haversine)."""
    p1, p2 = radians(lat1), radians(lat2)
    h = sin((p2 - p1) / 2) ** 2 + cos(p1) * cos(p2) * sin(radians(lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * asin(min(1.0, sqrt(h)))


def cell(lat: float, lon: float) -> str:
    """The grid cell of a point, as a short stable string key."""
    return f"{floor(lat / CELL_DEG)}:{floor(lon / CELL_DEG)}"


def neighbourhood(lat: float, lon: float) -> list[str]:
    """The cell of a point and the eight around it."""
    r, c = floor(lat / CELL_DEG), floor(lon / CELL_DEG)
    return [f"{r + dr}:{c + dc}" for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
