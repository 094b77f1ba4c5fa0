"""``list_scan``: explicit positions per motor."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import list_positions
from bec_scan_server.scans.args import ACQUISITION, ACQUISITION_GROUP, BURST_AT_EACH_POINT, RELATIVE, Arg
from bec_scan_server.scans.base import ScanBase


class ListScan(ScanBase):
    """A scan following the positions specified in a list.

    All lists must be equally long; point i visits the i-th entry of every list.
    """

    scan_name = "list_scan"
    bundle = (Arg("device", "DeviceBase", plain=True), Arg("positions", "list[float]", plain=True))
    bundle_min = 1
    keywords = (RELATIVE, *ACQUISITION, BURST_AT_EACH_POINT)
    gui_visibility = {"Acquisition Parameters": ACQUISITION_GROUP, "Movement Parameters": ["relative"]}
    examples = ("scans.list_scan(dev.samx, [0, 1, 2], dev.samy, [0, 2, 4], relative=False)",)

    def check(self) -> None:
        list_positions([list(values[0]) for _device, values in self.bound.bundles])

    def compute_positions(self) -> np.ndarray:
        return list_positions([list(values[0]) for _device, values in self.bound.bundles])
