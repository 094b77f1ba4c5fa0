"""``time_scan``: read the monitored devices ``points`` times, ``interval`` seconds apart."""

from __future__ import annotations

import numpy as np

from bec_scan_server.scans.args import EXP_TIME, SETTLING_TIME, Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase


class TimeScan(ScanBase):
    """Trigger and readout devices at a fixed interval.

    The readouts start ``interval`` seconds apart (a readout that takes longer
    delays the next one); nothing moves.
    """

    scan_name = "time_scan"
    positional = (
        Arg("points", "int"),
        Arg("interval", "float", display_name="Interval", units="s", ge=0),
        EXP_TIME,
        SETTLING_TIME,
    )
    gui_visibility = {"Scan Parameters": ["points", "interval", "exp_time", "settling_time"]}
    examples = ("scans.time_scan(points=10, interval=1.5, exp_time=0.1)",)

    def check(self) -> None:
        if int(self.kw["points"]) < 1:
            raise ValueError(f"argument 'points' must be >= 1, got {self.kw['points']}")

    def compute_positions(self) -> np.ndarray:
        return np.zeros((int(self.kw["points"]), 0))

    async def run(self, api: ScanAPI) -> None:
        start = api.loop_time()
        interval = float(self.kw["interval"])
        points = int(self.kw["points"])
        for i in range(points):
            for _ in range(self.burst):
                await api.point()
            if i < points - 1:
                await api.sleep_until(start + (i + 1) * interval)
