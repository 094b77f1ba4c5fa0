"""Position generators of the step scans (same patterns as bec_lib.position_generators)."""

from __future__ import annotations

import math

import numpy as np


def line_positions(bounds: list[tuple[float, float]], steps: int) -> np.ndarray:
    """``steps`` points from start to stop for every motor at once: shape ``(steps, motors)``."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    return np.column_stack([np.linspace(start, stop, steps) for start, stop in bounds])


def grid_positions(axes: list[tuple[float, float, int]], snaked: bool = True) -> np.ndarray:
    """A grid over ``(start, stop, steps)`` per motor; the last motor is the fastest.

    With ``snaked`` every other sweep of a faster axis runs backwards, so the
    motors never jump back to the start of a line.
    """
    if not axes:
        return np.zeros((0, 0))
    lines = [np.linspace(start, stop, int(steps)) for start, stop, steps in axes]
    rows: list[list[float]] = []

    def walk(level: int, prefix: list[float], counter: list[int]) -> None:
        values = lines[level]
        if snaked and level > 0 and counter[level] % 2 == 1:
            values = values[::-1]
        counter[level] += 1
        for value in values:
            if level == len(lines) - 1:
                rows.append([*prefix, float(value)])
            else:
                walk(level + 1, [*prefix, float(value)], counter)

    walk(0, [], [0] * len(lines))
    return np.asarray(rows, dtype=float)


def list_positions(lists: list[list[float]]) -> np.ndarray:
    """Explicit positions per motor; all lists must have the same length."""
    lengths = {len(values) for values in lists}
    if len(lengths) > 1:
        raise ValueError(f"all position lists must have the same length, got lengths {sorted(lengths)}")
    if not lists or not lengths or 0 in lengths:
        raise ValueError("position lists must not be empty")
    return np.column_stack([np.asarray(values, dtype=float) for values in lists])


def fermat_positions(
    start1: float, stop1: float, start2: float, stop2: float, step: float = 1.0, spiral_type: float = 0
) -> np.ndarray:
    """A Fermat spiral filling the rectangle, points ``step`` apart (BEC's ``get_fermat_spiral_pos``)."""
    if step <= 0:
        raise ValueError(f"step must be positive, not {step}")
    phi = 2 * math.pi * ((1 + math.sqrt(5)) / 2.0) + spiral_type * math.pi
    lo1, hi1 = sorted((start1, stop1))
    lo2, hi2 = sorted((start2, stop2))
    length_axis1 = abs(hi1 - lo1)
    length_axis2 = abs(hi2 - lo2)
    n_max = int(length_axis1 * length_axis2 * 3.2 / step / step)
    points = []
    for ii in range(n_max + 1):
        radius = step * 0.57 * math.sqrt(ii)
        x = radius * math.sin(ii * phi)
        y = radius * math.cos(ii * phi)
        if abs(x) > length_axis1 / 2 or abs(y) > length_axis2 / 2:
            continue
        points.append((x + (lo1 + hi1) / 2, y + (lo2 + hi2) / 2))
    return np.asarray(points, dtype=float).reshape(-1, 2)


def round_positions(
    inner_radius: float, outer_radius: float, number_of_rings: int, pos_in_first_ring: int
) -> np.ndarray:
    """Concentric rings around 0 (BEC's ``get_round_scan_positions``).

    Ring ``i`` (from the inner radius) has ``pos_in_first_ring * (i + 1)`` points.
    """
    if number_of_rings < 1 or pos_in_first_ring < 1:
        raise ValueError("number_of_rings and pos_in_first_ring must be at least 1")
    if outer_radius < inner_radius:
        raise ValueError(f"outer_radius {outer_radius} is smaller than inner_radius {inner_radius}")
    step = (outer_radius - inner_radius) / number_of_rings
    points = []
    for ring in range(1, number_of_rings + 1):
        radius = inner_radius + ring * step
        count = pos_in_first_ring * ring
        for k in range(count):
            angle = 2 * math.pi * k / count
            points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return np.asarray(points, dtype=float).reshape(-1, 2)
