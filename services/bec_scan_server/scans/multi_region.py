"""``multi_region_line_scan`` and ``multi_region_grid_scan``: several regions in one scan."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import multi_region_grid_positions, multi_region_line_positions
from bec_scan_server.scans.args import (
    ACQUISITION,
    ACQUISITION_GROUP,
    BURST_AT_EACH_POINT,
    RELATIVE,
    SNAKED,
    Arg,
    device,
)
from bec_scan_server.scans.base import ScanBase


class MultiRegionLineScan(ScanBase):
    """Scan one motor across multiple disjoint line regions.

    ``regions`` lists ``(start, stop, steps)``; they run one after the other and
    a region starting where the previous one ended does not repeat that point.
    """

    scan_name = "multi_region_line_scan"
    positional = (device("motor"),)
    keywords = (Arg("regions", "regions_line"), RELATIVE, *ACQUISITION, BURST_AT_EACH_POINT)
    gui_visibility = {
        "Acquisition Parameters": ACQUISITION_GROUP,
        "Movement Parameters": ["regions", "relative"],
    }
    position_preview = "bec_lib.position_generators.multi_region_line_positions"
    position_preview_parameter_mapping = {"regions": "regions"}
    examples = ("scans.multi_region_line_scan(dev.samx, regions=[(-1, 0, 2), (1, 2, 2)], relative=False)",)

    def compute_positions(self) -> np.ndarray:
        return multi_region_line_positions(self.kw["regions"])


class MultiRegionGridScan(ScanBase):
    """Scan two motors on multiple independent rectangular sub-grids.

    ``regions`` lists pairs ``((start1, stop1, steps1), (start2, stop2,
    steps2))``; each pair is a grid (the first motor fastest), run one after
    the other.
    """

    scan_name = "multi_region_grid_scan"
    positional = (device("motor1"), device("motor2"))
    keywords = (Arg("regions", "regions_grid"), RELATIVE, *ACQUISITION, SNAKED, BURST_AT_EACH_POINT)
    gui_visibility = {
        "Acquisition Parameters": ["exp_time", "settling_time", "burst_at_each_point"],
        "Motors": ["motor1", "motor2"],
        "Movement Parameters": ["regions", "relative", "snaked"],
    }
    position_preview = "bec_lib.position_generators.multi_region_grid_positions"
    position_preview_parameter_mapping = {"regions": "regions", "snaked": "snaked"}
    examples = (
        "scans.multi_region_grid_scan(dev.samx, dev.samy, regions=[((-1, 0, 2), (-1, 0, 2))], "
        "relative=False)",
    )

    def check(self) -> None:
        if self.kw["motor1"] == self.kw["motor2"]:
            raise ValueError("multi_region_grid_scan: motor1 and motor2 must be different devices")

    def compute_positions(self) -> np.ndarray:
        return multi_region_grid_positions(self.kw["regions"], snaked=bool(self.kw["snaked"]))
