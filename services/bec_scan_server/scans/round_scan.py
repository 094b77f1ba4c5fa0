"""``round_scan``: concentric rings over two motors."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import round_positions
from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanBase


class RoundScan(ScanBase):
    """Concentric rings around (center_1, center_2); ring i has pos_in_first_ring * i points.

    Args:
        motor_1, motor_2: the two motors
        inner_radius, outer_radius: radii of the first and last ring
        number_of_rings: number of rings
        pos_in_first_ring: points in the first ring
        relative: positions relative to the current ones

    Examples:
        >>> scans.round_scan(dev.samx, dev.samy, 0, 5, 3, 6, relative=True)
    """

    scan_name = "round_scan"
    positional = (
        Arg("motor_1", "DeviceBase"),
        Arg("motor_2", "DeviceBase"),
        Arg("inner_radius", "float", ge=0),
        Arg("outer_radius", "float", ge=0),
        Arg("number_of_rings", "int", ge=1),
        Arg("pos_in_first_ring", "int", ge=1),
    )
    keywords = (Arg("center_1", "float", 0.0), Arg("center_2", "float", 0.0))

    def check(self) -> None:
        if self.kw["motor_1"] == self.kw["motor_2"]:
            raise ValueError("round_scan: motor_1 and motor_2 must be different devices")
        self.positions  # noqa: B018  (raises ValueError for impossible radii)

    def compute_positions(self) -> np.ndarray:
        kw = self.kw
        pos = round_positions(
            kw["inner_radius"], kw["outer_radius"], kw["number_of_rings"], kw["pos_in_first_ring"]
        )
        return pos + np.array([kw["center_1"], kw["center_2"]])
