"""``cont_line_scan``: one motor moves without stopping; readouts at predefined positions.

The motor first goes to ``start - offset`` (a run-up, by default ``0.5 *
acceleration * velocity``), then the move to ``stop`` starts. Each time its
readback comes within ``atol`` of the next of the ``steps`` positions, the
monitored devices are read (the motor's reading is that readback). A position
the motor passed without being seen, or a move that ends before the last
position, ends the scan with an error that says what to change.
"""

from __future__ import annotations

import math

import numpy as np

from bec_scan_server.scans.args import EXP_TIME, FRAMES_PER_TRIGGER, READOUT_TIME, RELATIVE, Arg, device
from bec_scan_server.scans.base import ScanAPI, ScanBase

#: readback updates per second the tolerance is sized for (as stock)
UPDATE_FREQUENCY = 10.0


class ContinuousScanError(ValueError):
    """The motor moved past a readout position, or stopped before the last one."""


class ContLineScan(ScanBase):
    """A continuous line scan. Use this scan if you want to move a motor continuously
    from start to stop position while acquiring data at predefined positions.

    ``offset`` is the run-up before ``start``; ``atol`` how close the readback
    must be to a position to read there. Both default to values derived from
    the motor's velocity and acceleration.
    """

    scan_name = "cont_line_scan"
    positional = (
        device("device"),
        Arg("start", "float", display_name="Start Position", reference_units="device"),
        Arg("stop", "float", display_name="Stop Position", reference_units="device"),
        Arg("steps", "int", display_name="Number of Steps", ge=1),
    )
    keywords = (
        RELATIVE,
        Arg("offset", "float", None, display_name="Offset", reference_units="device", nullable=True),
        Arg("atol", "float", None, display_name="Tolerance", reference_units="device", nullable=True),
        EXP_TIME,
        READOUT_TIME,
        FRAMES_PER_TRIGGER,
    )
    gui_visibility = {
        "Acquisition Parameters": ["exp_time", "readout_time", "frames_per_trigger"],
        "Device": ["device", "start", "stop"],
        "Movement Parameters": ["steps", "relative", "offset", "atol"],
    }
    examples = ("scans.cont_line_scan(dev.samx, -5, 5, 50, exp_time=0.01, relative=False)",)
    follow_readback = True

    def check(self) -> None:
        if int(self.kw["steps"]) < 2:
            raise ValueError("cont_line_scan: argument 'steps' must be at least 2 (start and stop)")

    def compute_positions(self) -> np.ndarray:
        kw = self.kw
        return np.linspace(float(kw["start"]), float(kw["stop"]), int(kw["steps"])).reshape(-1, 1)

    async def _motion_parameters(self, api: ScanAPI, motor: str, step: float) -> tuple[float, float]:
        """``(offset, atol)``: given, or derived from the motor's velocity and acceleration."""
        velocity = abs(float(await api.device_value(motor, "velocity.get")))
        if velocity <= 0:
            raise ContinuousScanError(f"cont_line_scan: {motor} has velocity 0")
        offset = self.kw["offset"]
        if offset is None:
            offset = 0.5 * float(await api.device_value(motor, "acceleration.get")) * velocity
        atol = self.kw["atol"]
        if atol is None:
            try:
                precision = int(await api.device_value(motor, "precision"))
            except Exception:  # a motor without a precision attribute
                precision = 3
            atol = max(0.1 * velocity * self.exp_time, 2 * 10.0**-precision)
            if atol / UPDATE_FREQUENCY > velocity:
                raise ContinuousScanError(
                    f"cont_line_scan: {motor} moves too fast for the tolerance {atol:g}; "
                    f"reduce its velocity {velocity:g} or give a larger atol"
                )
            atol = max(atol, 2 / UPDATE_FREQUENCY * velocity)
        if self.exp_time > 0 and abs(step) / velocity < self.exp_time:
            raise ContinuousScanError(
                f"cont_line_scan: {motor} is too fast: {abs(step) / velocity:.3f} s per step < exp_time "
                f"{self.exp_time:.3f} s; reduce its velocity {velocity:g} or exp_time"
            )
        return float(offset), float(atol)

    async def run(self, api: ScanAPI) -> None:
        from bec_scan_server.devices import position_of  # devices imports the scans (validation)

        motor = self.kw["device"]
        base = api.offsets.get(motor, 0.0) if self.relative else 0.0
        targets = (self.positions[:, 0] + base).tolist()
        direction = 1.0 if targets[-1] >= targets[0] else -1.0
        offset, atol = await self._motion_parameters(api, motor, targets[1] - targets[0])
        await api.set({motor: targets[0] - direction * offset})
        motion = await api.set({motor: targets[-1]}, wait=False)
        index, retried = 0, False
        while index < len(targets):
            done = motion.done()
            readback = api.readback(motor)
            value = position_of(motor, readback) if readback else None
            if value is not None:
                if math.isclose(value, targets[index], abs_tol=atol):
                    await api.point(from_readback=[motor])
                    index, retried = index + 1, False
                    continue
                if (value - targets[index]) * direction > 0:
                    raise ContinuousScanError(
                        f"cont_line_scan: skipped point {index + 1} ({targets[index]:g}, "
                        f"{motor} at {value:g}); "
                        f"reduce the velocity, or increase atol ({atol:g}) or the offset ({offset:g})"
                    )
            if done:
                if retried:
                    raise ContinuousScanError(
                        f"cont_line_scan: {motor} stopped before point {index + 1} ({targets[index]:g})"
                    )
                retried = True
                await api.wait_readback(0.1)
                continue
            await api.wait_readback(0.05)
        await motion
