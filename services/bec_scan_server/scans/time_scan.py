"""``time_scan``: read the monitored devices ``points`` times, ``interval`` seconds apart."""

from __future__ import annotations

import numpy as np

from bec_scan_server.scans.args import COMMON_KWARGS, Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase

_NOT_RELATIVE = (Arg("relative", "bool", False), *COMMON_KWARGS[1:])


class TimeScan(ScanBase):
    """Read the monitored devices a number of times at a fixed interval, without moving anything.

    Args:
        points: number of readouts
        interval: seconds from one readout's start to the next one's

    Examples:
        >>> scans.time_scan(points=10, interval=1.5, exp_time=0.1, relative=False)
    """

    scan_name = "time_scan"
    positional = (Arg("points", "int", ge=1), Arg("interval", "float", ge=0, units="s"))
    common = _NOT_RELATIVE

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
