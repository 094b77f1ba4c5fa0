"""``grid_scan``: a grid over two or more motors, the FIRST one fastest, optionally snaked."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import grid_positions
from bec_scan_server.scans.args import (
    ACQUISITION,
    ACQUISITION_GROUP,
    BURST_AT_EACH_POINT,
    RELATIVE,
    SNAKED,
    Arg,
)
from bec_scan_server.scans.base import ScanBase


class GridScan(ScanBase):
    """Scan two or more motors in a grid.

    The first motor is the fastest axis; with ``snaked`` every other line runs
    backwards.
    """

    scan_name = "grid_scan"
    bundle = (
        Arg("device", "DeviceBase", plain=True),
        Arg("start", "float", display_name="Start Position", reference_units="device"),
        Arg("stop", "float", display_name="Stop Position", reference_units="device"),
        Arg("steps", "int", display_name="Number of Steps", ge=1),
    )
    bundle_min = 2
    keywords = (RELATIVE, *ACQUISITION, SNAKED, BURST_AT_EACH_POINT)
    gui_visibility = {
        "Acquisition Parameters": ACQUISITION_GROUP,
        "Movement Parameters": ["relative", "snaked"],
    }
    position_preview = "bec_lib.position_generators.nd_grid_positions"
    position_preview_parameter_mapping = {"axes": {"bundle": [1, 2, 3]}, "snaked": "snaked"}
    examples = ("scans.grid_scan(dev.samx, -5, 5, 10, dev.samy, -5, 5, 10, exp_time=0.1, relative=True)",)

    def compute_positions(self) -> np.ndarray:
        axes = [(float(v[0]), float(v[1]), int(v[2])) for _device, v in self.bound.bundles]
        return grid_positions(axes, snaked=bool(self.kw["snaked"]))
