"""Reordering 2-D scan positions to shorten the motors' path (``optim_trajectory``).

Three methods, as stock BEC 4.3 offers them for ``fermat_scan``:

* ``corridor``: cut the area into corridors along the slow (second) axis, run
  each corridor along the fast axis, alternating direction; five corridor
  widths around 1.5 x the median nearest-neighbour distance are tried and the
  shortest path wins (the same points and order as stock);
* ``nearest``: greedy nearest neighbour, starting at the point closest to the
  origin (the same as stock);
* ``shell``: rings of a width chosen from the point spacing, each run by angle,
  starting where the previous ring ended (our own variant: the same points,
  a similar order, not necessarily stock's exact order).

Every method returns a permutation of the input rows.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Method = Literal["corridor", "shell", "nearest"]


def path_length(positions: np.ndarray) -> float:
    """Sum of the straight distances between consecutive positions."""
    if len(positions) < 2:
        return 0.0
    return float(np.sum(np.sqrt(np.sum(np.diff(positions, axis=0) ** 2, axis=1))))


def _nearest_distances(points: np.ndarray) -> np.ndarray:
    """Distance of each point to its nearest other point (blocks of rows keep memory bounded)."""
    out = np.empty(len(points))
    for lo in range(0, len(points), 512):
        block = points[lo : lo + 512]
        d = np.sqrt(((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
        d[np.arange(len(block)), np.arange(lo, lo + len(block))] = np.inf
        out[lo : lo + len(block)] = d.min(axis=1)
    return out


def corridor(
    positions: np.ndarray, fast_axis: int = 0, first_direction: int = 1, snaked: bool = True, tries: int = 5
) -> np.ndarray:
    """Corridors across the slow axis, each run along ``fast_axis`` (see the module docstring)."""
    if positions.ndim != 2 or positions.shape[1] < 2 or len(positions) < 2:
        return positions
    base = 1.5 * float(np.median(_nearest_distances(positions[:, :2])))
    widths = base * np.logspace(-0.7, 0.7, tries) if tries > 1 else [base]
    slow = positions[:, 1 - fast_axis]
    best, best_length = positions, math.inf
    for width in widths:
        if width <= 0:
            continue
        corridor_of = ((slow - slow.min()) / width).astype(int)
        order: list[np.ndarray] = []
        for number in range(int(corridor_of.max()) + 1):
            members = np.where(corridor_of == number)[0]
            if members.size == 0:
                continue
            members = members[np.argsort(positions[members, fast_axis])]
            direction = -first_direction if snaked and number % 2 == 1 else first_direction
            order.append(members[::-1] if direction < 0 else members)
        path = positions[np.concatenate(order)]
        length = path_length(path)
        if length < best_length:
            best, best_length = path, length
    return best


def nearest(positions: np.ndarray) -> np.ndarray:
    """Greedy nearest neighbour from the point closest to the origin."""
    if len(positions) <= 1:
        return positions
    left = np.ones(len(positions), dtype=bool)
    current = int(np.argmin(np.sum(positions**2, axis=1)))
    order = [current]
    left[current] = False
    for _ in range(len(positions) - 1):
        d = np.sum((positions - positions[current]) ** 2, axis=1)
        d[~left] = np.inf
        current = int(np.argmin(d))
        order.append(current)
        left[current] = False
    return positions[order]


def shell(positions: np.ndarray) -> np.ndarray:
    """Rings around the origin, inner first, each run by angle from where the previous one ended."""
    if positions.ndim != 2 or positions.shape[1] < 2 or len(positions) < 2:
        return positions
    radii = np.hypot(positions[:, 0], positions[:, 1])
    spacing = float(np.percentile(_nearest_distances(positions[:, :2]), 75))
    width = max(2.0 * spacing, float(radii.max()) / math.sqrt(len(positions)))
    if width <= 0:
        return positions
    ring_of = (radii / width).astype(int)
    angles = np.arctan2(positions[:, 0], positions[:, 1])
    order: list[int] = []
    last_angle = 0.0
    for ring in range(int(ring_of.max()) + 1):
        members = np.where(ring_of == ring)[0]
        if members.size == 0:
            continue
        members = members[np.argsort((angles[members] - last_angle) % (2 * math.pi), kind="stable")]
        order.extend(members.tolist())
        last_angle = float(angles[members[-1]])
    return positions[order]


def optimize(positions: np.ndarray, method: Method, first_direction: int = 1) -> np.ndarray:
    """Reorder ``positions`` with ``method`` (fast axis: the first motor)."""
    if method == "corridor":
        return corridor(positions, fast_axis=0, first_direction=first_direction)
    if method == "nearest":
        return nearest(positions)
    if method == "shell":
        return shell(positions)
    raise ValueError(f"unknown trajectory optimisation {method!r}; choose corridor, shell or nearest")
