"""Scans of the example plugin: one step scan with its own positions, one with its own procedure."""

from __future__ import annotations

import numpy as np
from bec_scan_server.scans.args import ACQUISITION, BURST_AT_EACH_POINT, RELATIVE, Arg, device
from bec_scan_server.scans.base import ScanAPI, ScanBase


class ZigzagScan(ScanBase):
    """Visit ``steps`` points between start and stop, alternating from both ends towards the middle.

    The default procedure (a step scan over :meth:`compute_positions`) runs it;
    relative scans return to their start like every built-in scan.
    """

    scan_name = "zigzag_scan"
    positional = (
        device("motor"),
        Arg("start", "float", display_name="Start Position", reference_units="motor"),
        Arg("stop", "float", display_name="Stop Position", reference_units="motor"),
    )
    keywords = (
        Arg("steps", "int", display_name="Number of Steps", ge=1),
        RELATIVE,
        *ACQUISITION,
        BURST_AT_EACH_POINT,
    )
    examples = ("scans.zigzag_scan(dev.samx, -1, 1, steps=5, relative=False)",)

    def compute_positions(self) -> np.ndarray:
        line = np.linspace(float(self.kw["start"]), float(self.kw["stop"]), int(self.kw["steps"]))
        order, low, high = [], 0, len(line) - 1
        while low <= high:
            order += [low] if low == high else [low, high]
            low, high = low + 1, high - 1
        return line[order].reshape(-1, 1)


class RepeatAcquire(ScanBase):
    """Read the monitored devices ``repeats`` times, waiting ``pause`` seconds between readouts."""

    scan_name = "repeat_acquire"
    positional = (Arg("repeats", "int", ge=1), Arg("pause", "float", 0, units="s", ge=0))
    keywords = (*ACQUISITION,)
    examples = ("scans.repeat_acquire(3, 0.1)",)

    def compute_positions(self) -> np.ndarray:
        return np.zeros((int(self.kw["repeats"]), 0))

    async def run(self, api: ScanAPI) -> None:
        for index in range(int(self.kw["repeats"])):
            await api.point()
            if index < int(self.kw["repeats"]) - 1:
                await api.sleep_until(api.loop_time() + float(self.kw["pause"]))
