"""``hexagonal_scan``: a honeycomb grid over two motors."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import hexagonal_positions
from bec_scan_server.scans.args import (
    ACQUISITION,
    ACQUISITION_GROUP,
    BURST_AT_EACH_POINT,
    RELATIVE,
    SNAKED,
    Arg,
    device,
    start_stop,
)
from bec_scan_server.scans.base import ScanBase


def _step(motor: str) -> Arg:
    return Arg(f"step_{motor}", "float", display_name="Step Size", reference_units=motor, gt=0)


class HexagonalScan(ScanBase):
    """Scan two motors in a hexagonal grid pattern.

    Rows run along the first motor, ``step_motor2`` apart; every other row is
    shifted by half of ``step_motor1``, which covers the area more evenly than a
    rectangular grid.
    """

    scan_name = "hexagonal_scan"
    positional = (
        device("motor1"),
        *start_stop("motor1", "_motor1"),
        _step("motor1"),
        device("motor2"),
        *start_stop("motor2", "_motor2"),
        _step("motor2"),
    )
    keywords = (RELATIVE, *ACQUISITION, BURST_AT_EACH_POINT, SNAKED)
    gui_visibility = {
        "Acquisition Parameters": ACQUISITION_GROUP,
        "Device 1": ["motor1", "start_motor1", "stop_motor1", "step_motor1"],
        "Device 2": ["motor2", "start_motor2", "stop_motor2", "step_motor2"],
        "Movement Parameters": ["relative", "snaked"],
    }
    position_preview = "bec_lib.position_generators.hex_grid_2d"
    position_preview_parameter_mapping = {
        "axes": [
            ["start_motor1", "stop_motor1", "step_motor1"],
            ["start_motor2", "stop_motor2", "step_motor2"],
        ],
        "snaked": "snaked",
    }
    examples = ("scans.hexagonal_scan(dev.samx, -1, 1, 0.5, dev.samy, -1, 1, 0.5, relative=True)",)

    def check(self) -> None:
        if self.kw["motor1"] == self.kw["motor2"]:
            raise ValueError("hexagonal_scan: motor1 and motor2 must be different devices")
        if self.num_points() == 0:
            raise ValueError("hexagonal_scan: the ranges and steps give no point")

    def compute_positions(self) -> np.ndarray:
        kw = self.kw
        return hexagonal_positions(
            (kw["start_motor1"], kw["stop_motor1"], kw["step_motor1"]),
            (kw["start_motor2"], kw["stop_motor2"], kw["step_motor2"]),
            snaked=bool(kw["snaked"]),
        )
