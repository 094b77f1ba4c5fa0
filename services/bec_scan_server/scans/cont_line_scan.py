"""``cont_line_scan``: a fly scan; the motor moves while the monitored devices are read."""

from __future__ import annotations

import numpy as np

from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase


class ContLineScan(ScanBase):
    """Move one motor from start to stop without stopping and read while it moves.

    The motor first goes to ``start``; then the move to ``stop`` starts and the
    monitored devices are read back to back (each read is a point, the motor's
    position taken from its readback) until the motor arrives.

    Args:
        device, start, stop: the motor and its range
        steps: expected number of readouts (for the progress display only)
        relative: start and stop relative to the current position

    Examples:
        >>> scans.cont_line_scan(dev.samx, -5, 5, steps=50, exp_time=0.01, relative=False)
    """

    scan_name = "cont_line_scan"
    positional = (Arg("device", "DeviceBase"), Arg("start", "float"), Arg("stop", "float"))
    keywords = (Arg("steps", "int", 50, description="expected number of readouts", ge=1),)
    follow_readback = True

    def compute_positions(self) -> np.ndarray:
        return np.array([[float(self.kw["start"])], [float(self.kw["stop"])]])

    def num_readouts(self) -> int:
        return int(self.kw["steps"])

    async def run(self, api: ScanAPI) -> None:
        motor = self.kw["device"]
        offset = api.offsets.get(motor, 0.0) if self.relative else 0.0
        start, stop = float(self.kw["start"]) + offset, float(self.kw["stop"]) + offset
        await api.set({motor: start})
        motion = await api.set({motor: stop}, wait=False)
        while True:
            await api.point(from_readback=[motor])
            if motion.done():
                break
        await motion
