"""``time_scan``: read the monitored devices ``points`` times, ``interval`` seconds apart."""

from __future__ import annotations

import numpy as np

from bec_scan_server.scans.args import EXP_TIME, SETTLING_TIME, Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase


class TimeScan(ScanBase):
    """Trigger and readout devices at a fixed interval.

    Note that the interval time cannot be less than the exposure time.
    The effective sleep time between points is:
        sleep_time = max(interval - exp_time, 0)
    (as stock BEC: after each readout but the last, however long the readout took); nothing moves.
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

    def sleep_time(self) -> float:
        """The pause after each readout but the last: ``max(interval - exp_time, 0)``."""
        return max(float(self.kw["interval"]) - float(self.exp_time), 0.0)

    async def run(self, api: ScanAPI) -> None:
        points = int(self.kw["points"])
        pause = self.sleep_time()
        for i in range(points):
            for _ in range(self.burst):
                await api.point()
            if i < points - 1 and pause > 0:
                await api.sleep_until(api.loop_time() + pause)
