"""``list_scan``: explicit positions per motor."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import list_positions
from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanBase


class ListScan(ScanBase):
    """A scan over explicit positions; all lists must be equally long.

    Args:
        *args: bundles of (device, positions)
        relative: positions relative to the current ones

    Examples:
        >>> scans.list_scan(dev.samx, [0, 1, 2], dev.samy, [0, 2, 4], relative=False)
    """

    scan_name = "list_scan"
    bundle = (Arg("device", "DeviceBase"), Arg("positions", "list[float]"))
    bundle_min = 1

    def check(self) -> None:
        list_positions([list(values[0]) for _device, values in self.bound.bundles])

    def compute_positions(self) -> np.ndarray:
        return list_positions([list(values[0]) for _device, values in self.bound.bundles])
