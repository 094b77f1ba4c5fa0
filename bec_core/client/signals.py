"""Which signals of a scan a person wants to see: the table's columns and the plot's axes.

The default is what BEC calls *hinted*: a device's signals of ``kind=hinted``
(its ``hints.fields``). The scan's motors come first (their hinted readback),
then the hinted signals of the scan's monitored detectors, in the order the
device configuration lists them (the beamline's order, not the alphabet).
A user's choice (``--show bpm4i,diode`` or ``columns("bpm4i")`` in the shell)
replaces the detectors; a name may be ``device`` or ``device.signal``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bec_core.client.errors import UnknownDeviceError

if TYPE_CHECKING:
    from bec_core.client.client import BECClient


@dataclass(frozen=True)
class Column:
    """One signal to show: ``device`` and the ``signal`` name in the readings, with its units."""

    device: str
    signal: str
    units: str = ""

    @property
    def label(self) -> str:
        """``samx``, ``samx.samx_setpoint`` or ``temp [K]``: the name a person reads on an axis."""
        name = self.device if self.signal == self.device else f"{self.device}.{self.signal}"
        return f"{name} [{self.units}]" if self.units else name


def scan_motors(status: Any) -> list[str]:
    """The scan's motors (``scan_report_devices`` of its status message)."""
    return list(getattr(status, "scan_report_devices", None) or []) if status is not None else []


def hinted_signals(client: BECClient, device: str) -> list[str]:
    """The device's hinted signal names (its readback name if it publishes no hints)."""
    proxy = client.dev.get(device)
    if proxy is None:
        return [device]
    hints = proxy.hints or [s.name for s in proxy.signals.values() if s.kind == "hinted"]
    return hints or [proxy.readback_name]


def units_of(client: BECClient, device: str, signal: str) -> str:
    """The signal's units from the device's ``describe()`` (EPICS fills them; simulations do not)."""
    proxy = client.dev.get(device)
    if proxy is None:
        return ""
    return str((proxy.describe().get(signal) or {}).get("units") or "")


def _column(client: BECClient, device: str, signal: str) -> Column:
    return Column(device, signal, units_of(client, device, signal))


def detectors(client: BECClient, status: Any) -> list[str]:
    """The scan's monitored devices that are not its motors, in device-config order."""
    motors = scan_motors(status)
    monitored = set((getattr(status, "readout_priority", None) or {}).get("monitored") or [])
    ordered = [name for name in client.dev.names() if name in monitored and name not in motors]
    return ordered + sorted(monitored - set(ordered) - set(motors))


def parse_choice(client: BECClient, names: Sequence[str]) -> list[Column]:
    """``["bpm4i", "samx.samx_setpoint"]`` → columns; raises UnknownDeviceError naming a wrong one."""
    columns = []
    for name in names:
        device, _, signal = name.strip().partition(".")
        proxy = client.dev.resolve(device)  # raises with "did you mean" for unknown names
        if signal:
            known = {s.name for s in proxy.signals.values()} | set(proxy.signals)
            if signal not in known:
                choices = ", ".join(sorted(s.name for s in proxy.signals.values())) or "none"
                raise UnknownDeviceError(f"{device} has no signal {signal!r} (signals: {choices})")
            if signal in proxy.signals:  # an attribute name: the reading is keyed by the signal name
                signal = proxy.signals[signal].name
            columns.append(_column(client, proxy.name, signal))
        else:
            columns += [_column(client, proxy.name, s) for s in hinted_signals(client, proxy.name)]
    return columns


def motor_columns(client: BECClient, status: Any) -> list[Column]:
    """One column per scan motor: its readback."""
    return [_column(client, m, hinted_signals(client, m)[0]) for m in scan_motors(status)]


def detector_columns(
    client: BECClient, status: Any, choice: Sequence[str] | None = None, limit: int | None = None
) -> list[Column]:
    """The user's choice, else the hinted signals of the scan's detectors (at most ``limit``)."""
    if choice:
        return parse_choice(client, choice)
    columns = [_column(client, d, s) for d in detectors(client, status) for s in hinted_signals(client, d)]
    return columns[:limit] if limit is not None else columns
