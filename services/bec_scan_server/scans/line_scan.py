"""``line_scan``: all motors from start to stop together, in ``steps`` points."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import line_positions
from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanBase


class LineScan(ScanBase):
    """A line scan for one or more motors.

    Args:
        *args: bundles of (device, start, stop)
        steps: number of points
        relative: start and stop relative to the current positions
        exp_time: exposure time per frame in seconds

    Examples:
        >>> scans.line_scan(dev.samx, -5, 5, steps=10, exp_time=0.1, relative=False)
    """

    scan_name = "line_scan"
    bundle = (
        Arg("device", "DeviceBase"),
        Arg("start", "float", description="start position"),
        Arg("stop", "float", description="stop position"),
    )
    bundle_min = 1
    keywords = (Arg("steps", "int", description="number of points", ge=1),)

    def compute_positions(self) -> np.ndarray:
        bounds = [(float(values[0]), float(values[1])) for _device, values in self.bound.bundles]
        return line_positions(bounds, int(self.kw["steps"]))
