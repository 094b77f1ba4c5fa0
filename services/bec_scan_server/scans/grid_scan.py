"""``grid_scan``: a grid over two or more motors, the last one fastest, optionally snaked."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import grid_positions
from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanBase


class GridScan(ScanBase):
    """A grid scan over two or more motors.

    Args:
        *args: bundles of (device, start, stop, steps)
        snaked: run every other line backwards
        relative: positions relative to the current ones

    Examples:
        >>> scans.grid_scan(dev.samx, -5, 5, 10, dev.samy, -5, 5, 10, exp_time=0.1, relative=True)
    """

    scan_name = "grid_scan"
    bundle = (
        Arg("device", "DeviceBase"),
        Arg("start", "float"),
        Arg("stop", "float"),
        Arg("steps", "int", ge=1),
    )
    bundle_min = 2
    keywords = (Arg("snaked", "bool", True, description="snake the lines"),)

    def compute_positions(self) -> np.ndarray:
        axes = [(float(v[0]), float(v[1]), int(v[2])) for _device, v in self.bound.bundles]
        return grid_positions(axes, snaked=bool(self.kw["snaked"]))
