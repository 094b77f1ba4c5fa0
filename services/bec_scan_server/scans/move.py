"""``mv`` and ``umv``: move devices (queue requests that are not scans)."""

from __future__ import annotations

from typing import Any

from bec_scan_server.scans.args import RELATIVE, Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase


def _fields(arg: Arg) -> dict[str, Any]:
    return {name: getattr(arg, name) for name in Arg.__dataclass_fields__}


class Move(ScanBase):
    """Simple move command that moves one or more motors to the specified positions.

    The request ends as soon as the moves were started; ``umv`` waits for them.
    """

    scan_name = "mv"
    class_name = "MoveScan"
    is_scan = False
    scan_type = None
    bundle = (Arg("device", "DeviceBase", plain=True), Arg("target", "float", plain=True))
    bundle_min = 1
    #: published as required (as stock); requests from older clients without it move absolutely
    keywords = (Arg(**{**_fields(RELATIVE), "fallback": False}),)
    examples = ("scans.mv(dev.samx, 1, dev.samy, 2, relative=False)",)
    returns_to_start = False
    wait = False

    def targets_now(self, api: ScanAPI) -> dict[str, float]:
        """Absolute targets (relative ones added to the current positions)."""
        return {
            device: float(values[0]) + (api.offsets.get(device, 0.0) if self.relative else 0.0)
            for device, values in self.bound.bundles
        }

    def targets(self, offsets: dict[str, float]) -> dict[str, tuple[float, float]]:
        out = {}
        for device, values in self.bound.bundles:
            target = float(values[0]) + (offsets.get(device, 0.0) if self.relative else 0.0)
            out[device] = (target, target)
        return out

    def report_instructions(self) -> list[dict]:
        return []

    async def run(self, api: ScanAPI) -> None:
        await api.set(self.targets_now(api), wait=self.wait, response=True)


class UpdatedMove(Move):
    """Simple move command that moves one or more motors to the specified positions.

    The blocking version of ``mv``: it waits until the motors arrived and
    reports their readback while they move.
    """

    scan_name = "umv"
    class_name = "UpdatedMoveScan"
    examples = ("scans.umv(dev.samx, 1, relative=False)",)
    wait = True
    needs_positions = True

    async def run(self, api: ScanAPI) -> None:
        targets = self.targets_now(api)
        devices = list(targets)
        start = [api.positions.get(d) for d in devices]
        await api.report(
            [
                {
                    "readback": {
                        "RID": api.rid,
                        "devices": devices,
                        "start": start,
                        "end": list(targets.values()),
                    }
                }
            ]
        )
        await api.set(targets, wait=True, response=True)
