"""``line_scan`` and ``log_scan``: all motors from start to stop together, in ``steps`` points."""

from __future__ import annotations

import numpy as np

from bec_scan_server.positions import line_positions, log_positions
from bec_scan_server.scans.args import ACQUISITION, ACQUISITION_GROUP, BURST_AT_EACH_POINT, RELATIVE, Arg
from bec_scan_server.scans.base import ScanBase

_BUNDLE = (
    Arg("device", "DeviceBase", plain=True),
    Arg("start", "float", display_name="Start Position", reference_units="device"),
    Arg("stop", "float", display_name="Stop Position", reference_units="device"),
)


class LineScan(ScanBase):
    """A line scan for one or more motors.

    Every motor goes from its start to its stop position in ``steps`` equally
    spaced points; all motors move together.
    """

    scan_name = "line_scan"
    bundle = _BUNDLE
    bundle_min = 1
    keywords = (
        Arg("steps", "int", display_name="Number of Steps", gt=0),
        RELATIVE,
        *ACQUISITION,
        BURST_AT_EACH_POINT,
    )
    gui_visibility = {
        "Movement Parameters": ["steps", "relative"],
        "Acquisition Parameters": ACQUISITION_GROUP,
    }
    position_preview = "bec_lib.position_generators.line_scan_positions"
    position_preview_parameter_mapping = {"axes": {"bundle": [1, 2]}, "steps": "steps"}
    examples = ("scans.line_scan(dev.samx, -5, 5, steps=10, exp_time=0.1, relative=False)",)

    def bounds(self) -> list[tuple[float, float]]:
        """``(start, stop)`` per motor."""
        return [(float(values[0]), float(values[1])) for _device, values in self.bound.bundles]

    def compute_positions(self) -> np.ndarray:
        return line_positions(self.bounds(), int(self.kw["steps"]))


class LogScan(LineScan):
    """A scan for one or more motors with logarithmically spaced positions.

    The steps grow logarithmically over the fraction of the way from start to
    stop, so ranges may include or cross zero.
    """

    scan_name = "log_scan"
    keywords = (Arg("steps", "int", display_name="Steps", ge=1), *LineScan.keywords[1:])
    position_preview = "bec_lib.position_generators.log_scan_positions"
    examples = ("scans.log_scan(dev.samx, 1, 10, steps=4, exp_time=0.1, relative=False)",)

    def compute_positions(self) -> np.ndarray:
        return log_positions(self.bounds(), int(self.kw["steps"]))
