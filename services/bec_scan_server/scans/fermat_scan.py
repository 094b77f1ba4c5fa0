"""``fermat_scan``: a Fermat spiral over two motors, optionally reordered (``optim_trajectory``)."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import fermat_positions
from bec_scan_server.scans.args import (
    ACQUISITION,
    ACQUISITION_GROUP,
    BURST_AT_EACH_POINT,
    RELATIVE,
    Arg,
    device,
    start_stop,
)
from bec_scan_server.scans.base import ScanBase
from bec_scan_server.trajectory import optimize


class FermatSpiralScan(ScanBase):
    """A scan following Fermat's spiral.

    The spiral fills the rectangle spanned by the two motors' ranges with points
    about ``step`` apart; ``optim_trajectory`` reorders them (corridor, shell or
    nearest neighbour) to shorten the path.
    """

    scan_name = "fermat_scan"
    positional = (
        device("motor1"),
        *start_stop("motor1", "_motor1"),
        device("motor2"),
        *start_stop("motor2", "_motor2"),
        Arg("step", "float", display_name="Step Size", reference_units="motor1"),
    )
    keywords = (
        RELATIVE,
        *ACQUISITION,
        Arg(
            "optim_trajectory",
            "literal",
            None,
            display_name="Optimize Trajectory",
            description="Method for optimizing the scan trajectory.",
            choices=("corridor", "shell", "nearest", None),
        ),
        BURST_AT_EACH_POINT,
        Arg(
            "spiral_type",
            "float",
            0,
            display_name="Spiral Type",
            description="Angular offset in radians that determines the shape of the spiral",
            units="rad",
            ge=0,
            le=2,
        ),
    )
    gui_visibility = {
        "Acquisition Parameters": ACQUISITION_GROUP,
        "Device 1": ["motor1", "start_motor1", "stop_motor1"],
        "Device 2": ["motor2", "start_motor2", "stop_motor2"],
        "Movement Parameters": ["step", "spiral_type", "relative", "optim_trajectory"],
    }
    position_preview = "bec_lib.position_generators.fermat_spiral_pos"
    position_preview_parameter_mapping = {
        "m1_start": "start_motor1",
        "m1_stop": "stop_motor1",
        "m2_start": "start_motor2",
        "m2_stop": "stop_motor2",
        "spiral_type": "spiral_type",
        "step": "step",
    }
    examples = ("scans.fermat_scan(dev.samx, -5, 5, dev.samy, -5, 5, step=0.5, relative=True)",)

    def check(self) -> None:
        if self.kw["motor1"] == self.kw["motor2"]:
            raise ValueError("fermat_scan: motor1 and motor2 must be different devices")
        if float(self.kw["step"]) <= 0:
            raise ValueError(f"fermat_scan: argument 'step' must be > 0, got {self.kw['step']}")
        if self.num_points() == 0:
            raise ValueError("fermat_scan: the ranges and step give no point")

    def compute_positions(self) -> np.ndarray:
        kw = self.kw
        positions = fermat_positions(
            kw["start_motor1"],
            kw["stop_motor1"],
            kw["start_motor2"],
            kw["stop_motor2"],
            kw["step"],
            kw["spiral_type"],
        )
        if kw.get("optim_trajectory"):
            ascending = kw["stop_motor1"] > kw["start_motor1"]
            positions = optimize(positions, kw["optim_trajectory"], first_direction=1 if ascending else -1)
        return positions
