"""``mv`` and ``umv``: move devices (queue requests that are not scans)."""

from __future__ import annotations

from bec_scan_server.scans.args import Arg
from bec_scan_server.scans.base import ScanAPI, ScanBase


class Move(ScanBase):
    """Move devices to absolute (or relative) targets; the request ends when the move was started.

    Args:
        *args: bundles of (device, target)
        relative: targets relative to the current positions

    Examples:
        >>> scans.mv(dev.samx, 1, dev.samy, 2, relative=False)
    """

    scan_name = "mv"
    is_scan = False
    scan_type = None
    bundle = (Arg("device", "DeviceBase"), Arg("target", "float"))
    bundle_min = 1
    common = (Arg("relative", "bool", False),)
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
    """Move devices and wait until they arrived, reporting their readback.

    Args:
        *args: bundles of (device, target)
        relative: targets relative to the current positions

    Examples:
        >>> scans.umv(dev.samx, 1, relative=False)
    """

    scan_name = "umv"
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
