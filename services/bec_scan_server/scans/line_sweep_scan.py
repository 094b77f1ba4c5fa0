"""``line_sweep_scan``: one motor moves from start to stop; a readout on each readback update."""

from __future__ import annotations

import numpy as np

from bec_scan_server.scans.args import EXP_TIME, FRAMES_PER_TRIGGER, RELATIVE, Arg, device, start_stop
from bec_scan_server.scans.base import ScanAPI, ScanBase


class LineSweepScan(ScanBase):
    """Read out monitored devices while a single device moves continuously from
    start to stop.

    Each readback update of the moving device triggers a readout; after one,
    the next waits at least ``min_update`` seconds. With ``max_update`` > 0 a
    readout also happens when no update came for that long.
    """

    scan_name = "line_sweep_scan"
    positional = (device("device"), *start_stop("device"))
    keywords = (
        RELATIVE,
        EXP_TIME,
        FRAMES_PER_TRIGGER,
        Arg("min_update", "float", 0, display_name="Minimum Update", units="s", ge=0),
        Arg("max_update", "float", 0, display_name="Maximum Update", units="s", ge=0),
    )
    gui_visibility = {"Device": ["device", "start", "stop"], "Scan Parameters": ["min_update", "relative"]}
    examples = ("scans.line_sweep_scan(dev.samx, -5, 5, min_update=0.1, relative=False)",)
    follow_readback = True

    def compute_positions(self) -> np.ndarray:
        return np.array([[float(self.kw["start"])], [float(self.kw["stop"])]])

    async def run(self, api: ScanAPI) -> None:
        motor = self.kw["device"]
        base = api.offsets.get(motor, 0.0) if self.relative else 0.0
        start, stop = (self.positions[:, 0] + base).tolist()
        min_update, max_update = float(self.kw["min_update"]), float(self.kw["max_update"])
        await api.set({motor: start})
        motion = await api.set({motor: stop}, wait=False)
        last = api.loop_time()
        while not motion.done():
            if not await api.wait_readback(0.05):
                if max_update <= 0 or api.loop_time() - last <= max_update:
                    continue
            await api.point(from_readback=[motor])
            last = api.loop_time()
            if min_update > 0:
                await api.sleep_until(last + min_update)
        await motion
