"""``fermat_scan``: a Fermat spiral over two motors."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import fermat_positions
from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanBase


class FermatSpiralScan(ScanBase):
    """A Fermat spiral filling the rectangle spanned by the two motors' ranges.

    Args:
        motor1, start_motor1, stop_motor1: first motor and its range
        motor2, start_motor2, stop_motor2: second motor and its range
        step: distance between points
        spiral_type: angular offset in units of pi
        relative: positions relative to the current ones

    Examples:
        >>> scans.fermat_scan(dev.samx, -5, 5, dev.samy, -5, 5, step=0.5, relative=True)
    """

    scan_name = "fermat_scan"
    positional = (
        Arg("motor1", "DeviceBase"),
        Arg("start_motor1", "float"),
        Arg("stop_motor1", "float"),
        Arg("motor2", "DeviceBase"),
        Arg("start_motor2", "float"),
        Arg("stop_motor2", "float"),
        Arg("step", "float", 0.1, gt=0),
    )
    keywords = (Arg("spiral_type", "float", 0.0),)

    def check(self) -> None:
        if self.kw["motor1"] == self.kw["motor2"]:
            raise ValueError("fermat_scan: motor1 and motor2 must be different devices")
        if self.num_points() == 0:
            raise ValueError("fermat_scan: the ranges and step give no point")

    def compute_positions(self) -> np.ndarray:
        kw = self.kw
        return fermat_positions(
            kw["start_motor1"],
            kw["stop_motor1"],
            kw["start_motor2"],
            kw["stop_motor2"],
            kw["step"],
            kw["spiral_type"],
        )
