"""Position generators of the step scans: the patterns stock BEC 4.3 visits.

Each returns an array of shape ``(points, motors)``. The point orders and
counts are those of stock BEC 4.3.2 for the same arguments; the checked-in
reference tests/data/scans/stock_positions.json and its test keep it so.
Trajectory optimisation (``fermat_scan(optim_trajectory=...)``) lives in
:mod:`bec_scan_server.trajectory`.
"""

from __future__ import annotations

import math

import numpy as np

Region = tuple[float, float, int]


def line_positions(bounds: list[tuple[float, float]], steps: int) -> np.ndarray:
    """``steps`` points from start to stop for every motor at once: shape ``(steps, motors)``."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    return np.column_stack([np.linspace(start, stop, steps) for start, stop in bounds])


def log_positions(bounds: list[tuple[float, float]], steps: int) -> np.ndarray:
    """``steps`` points whose spacing grows logarithmically from start towards stop.

    The logarithm applies to the fraction of the way covered (0 at start, 1 at
    stop), so ranges may include or cross zero.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    fraction = (np.logspace(0.0, 1.0, steps) - 1.0) / 9.0
    return np.column_stack([start + fraction * (stop - start) for start, stop in bounds])


def grid_positions(axes: list[tuple[float, float, int]], snaked: bool = True) -> np.ndarray:
    """A grid over ``(start, stop, steps)`` per motor; the FIRST motor is the fastest.

    With ``snaked`` every other pass over the faster axes runs backwards, so the
    motors never jump back to the start of a line.
    """
    if not axes:
        return np.zeros((0, 0))
    lines = []
    for start, stop, steps in axes:
        if int(steps) < 1:
            raise ValueError(f"steps must be at least 1, not {steps}")
        lines.append(np.linspace(start, stop, int(steps)).tolist())

    def block(slow_first: list[list[float]]) -> list[list[float]]:
        """Rows (slowest value first) of the grid over ``slow_first``."""
        if len(slow_first) == 1:
            return [[v] for v in slow_first[0]]
        rows: list[list[float]] = []
        inner = block(slow_first[1:])
        for i, value in enumerate(slow_first[0]):
            sub = inner[::-1] if snaked and i % 2 == 1 else inner
            rows.extend([value, *row] for row in sub)
        return rows

    rows = block(lines[::-1])
    return np.asarray(rows, dtype=float)[:, ::-1]


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
    """A Fermat spiral around the rectangle's centre, points about ``step`` apart, inside the rectangle.

    Point ``i`` (from 1) lies at radius ``step * sqrt(i / pi)`` and angle
    ``i * phi`` with ``phi`` the golden angle plus ``spiral_type * pi``.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, not {step}")
    phi = 2 * math.pi * ((1 + math.sqrt(5)) / 2.0) + spiral_type * math.pi
    cx, cy = (start1 + stop1) / 2, (start2 + stop2) / 2
    lo1, hi1 = sorted((start1, stop1))
    lo2, hi2 = sorted((start2, stop2))
    scale = step / math.sqrt(math.pi)
    last = math.ceil((hi1 - lo1) * (hi2 - lo2) * 3.2 / step**2)
    index = np.arange(1, last + 1, dtype=float)
    radius = scale * np.sqrt(index)
    x = cx + radius * np.cos(index * phi)
    y = cy + radius * np.sin(index * phi)
    inside = (x >= lo1) & (x <= hi1) & (y >= lo2) & (y <= hi2)
    return np.column_stack([x[inside], y[inside]]).reshape(-1, 2)


def round_positions(
    inner_radius: float,
    outer_radius: float,
    number_of_rings: int,
    pos_in_first_ring: int,
    center_1: float = 0.0,
    center_2: float = 0.0,
) -> np.ndarray:
    """Concentric rings: ring ``k`` (from 1) at ``inner + k * (outer - inner) / rings``, ``k * first`` points.

    The inner radius itself is not visited; the first point of each ring is on
    the second axis (angle measured from it).
    """
    if not (math.isfinite(inner_radius) and math.isfinite(outer_radius)) or not (
        0 <= inner_radius < outer_radius
    ):
        raise ValueError(
            "radii must be finite with 0 <= inner_radius < outer_radius, "
            f"got {inner_radius} and {outer_radius}"
        )
    if number_of_rings < 1 or pos_in_first_ring < 1:
        raise ValueError("number_of_rings and pos_in_first_ring must be at least 1")
    radii = np.linspace(inner_radius, outer_radius, number_of_rings + 1)[1:]
    points = []
    for ring, radius in enumerate(radii.tolist(), start=1):
        count = pos_in_first_ring * ring
        angles = np.arange(count) * (2 * math.pi / count)
        points.append(
            np.column_stack([radius * np.sin(angles) + center_1, radius * np.cos(angles) + center_2])
        )
    return np.vstack(points)


def round_roi_positions(
    start1: float,
    stop1: float,
    start2: float,
    stop2: float,
    shell_spacing: float,
    pos_in_first_ring: int,
    center_1: float = 0.0,
    center_2: float = 0.0,
) -> np.ndarray:
    """Shells of radius ``k * shell_spacing`` around the centre, kept where they fall in the rectangle.

    Shell ``k`` has ``k * pos_in_first_ring`` points, the first on the first
    axis; shells are generated out past the rectangle's farthest corner.
    """
    if shell_spacing <= 0:
        raise ValueError(f"shell_spacing must be positive, not {shell_spacing}")
    if pos_in_first_ring < 1:
        raise ValueError("pos_in_first_ring must be at least 1")
    lo1, hi1 = sorted((start1, stop1))
    lo2, hi2 = sorted((start2, stop2))
    reach = max(math.hypot(a - center_1, b - center_2) for a in (lo1, hi1) for b in (lo2, hi2))
    shells = 2 + math.ceil(reach / shell_spacing)
    points = []
    for shell in range(1, shells + 1):
        count = pos_in_first_ring * shell
        angles = np.arange(count) * (2 * math.pi / count)
        x = shell * shell_spacing * np.cos(angles) + center_1
        y = shell * shell_spacing * np.sin(angles) + center_2
        inside = (x >= lo1) & (x <= hi1) & (y >= lo2) & (y <= hi2)
        points.append(np.column_stack([x[inside], y[inside]]))
    return np.vstack(points).reshape(-1, 2)


def hexagonal_positions(
    axis1: tuple[float, float, float], axis2: tuple[float, float, float], snaked: bool = True
) -> np.ndarray:
    """A hexagonal grid: rows along the first axis, ``step2`` apart; odd rows shifted by half a step.

    Points outside ``[start, stop]`` of either axis are dropped; with ``snaked``
    odd rows run backwards.
    """
    (start1, stop1, step1), (start2, stop2, step2) = axis1, axis2
    if step1 <= 0 or step2 <= 0:
        raise ValueError(f"step sizes must be positive, got {step1} and {step2}")
    rows = math.ceil((stop2 - start2) / step2) + 2
    cols = math.ceil((stop1 - start1) / step1) + 2
    out: list[tuple[float, float]] = []
    for row in range(rows):
        y = start2 + row * step2
        shift = step1 / 2 if row % 2 else 0.0
        line = [
            (x, y)
            for x in (start1 + shift + col * step1 for col in range(cols))
            if start1 <= x <= stop1 and start2 <= y <= stop2
        ]
        out.extend(line[::-1] if snaked and row % 2 else line)
    return np.asarray(out, dtype=float).reshape(-1, 2)


def multi_region_line_positions(regions: list[Region]) -> np.ndarray:
    """Regions ``(start, stop, steps)`` one after the other; a region starting where the last ended
    does not repeat that point."""
    if not regions:
        raise ValueError("regions must contain at least one region")
    values: list[float] = []
    for start, stop, steps in regions:
        if int(steps) < 1:
            raise ValueError(f"region steps must be at least 1, not {steps}")
        region = np.linspace(start, stop, int(steps)).tolist()
        if values and np.isclose(values[-1], region[0]):
            region = region[1:]
        values.extend(region)
    return np.asarray(values, dtype=float).reshape(-1, 1)


def multi_region_grid_positions(regions: list[tuple[Region, Region]], snaked: bool = True) -> np.ndarray:
    """A sub-grid per pair of regions, one after the other; the first motor is the fast one."""
    if not regions:
        raise ValueError("regions must contain at least one pair of regions")
    blocks = [grid_positions([first, second], snaked=snaked) for first, second in regions]
    return np.vstack(blocks)
