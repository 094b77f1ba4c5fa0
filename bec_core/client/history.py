"""``bec.history``: the finished scans the file writer appended to ``info/scans/scan_history``.

``len(bec.history)``, ``bec.history[-1]`` (the newest), ``bec.history.by_number(12)``; each
entry's :meth:`HistoryScan.read` opens its master file and returns the device data as numpy
arrays (``{device: {signal: array}}``), :meth:`HistoryScan.metadata` the scan's ``bec``
metadata. Entries whose file this process cannot read are left out, as stock's history does.
"""

from __future__ import annotations

import os
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import BECError

DEVICES = "entry/collection/devices"


class HistoryError(BECError):
    """A history entry's file could not be read."""


class HistoryScan:
    """One finished scan of the history."""

    def __init__(self, msg: Any) -> None:
        self.msg = msg
        self.scan_id: str = msg.scan_id
        self.scan_number: int = msg.scan_number
        self.file_path: str = msg.file_path
        self.exit_status: str = msg.exit_status

    def read(self, devices: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """The recorded values, ``{device: {signal: numpy array}}`` (all devices, or ``devices``).

        Raises:
            HistoryError: the file cannot be opened or has no device data (naming the file).
        """
        import h5py

        out: dict[str, dict[str, Any]] = {}
        try:
            with h5py.File(self.file_path, "r", locking=False) as f:
                group = f.get(DEVICES)
                if group is None:
                    raise HistoryError(f"{self.file_path}: no {DEVICES} group")
                for device in devices or list(group):
                    if device not in group:
                        raise HistoryError(f"{self.file_path}: no device {device!r}")
                    for signal, sub in group[device].items():
                        if "value" in sub:
                            out.setdefault(device, {})[signal] = sub["value"][()]
        except OSError as exc:
            raise HistoryError(f"cannot read {self.file_path}: {exc}") from exc
        return out

    def metadata(self) -> dict[str, Any]:
        """``entry/collection/metadata/bec`` as a flat ``{name: value}`` (groups as nested dicts)."""
        import h5py

        def walk(group: Any) -> dict[str, Any]:
            return {k: walk(v) if isinstance(v, h5py.Group) else v[()] for k, v in group.items()}

        with h5py.File(self.file_path, "r", locking=False) as f:
            return walk(f["entry/collection/metadata/bec"])

    def __repr__(self) -> str:
        return f"<scan {self.scan_number} {self.msg.scan_name} ({self.exit_status}) {self.file_path}>"


class ScanHistory:
    """The scan history, read from Redis on each access (it is short: at most 10,000 entries)."""

    def __init__(self, connector: Any) -> None:
        self.connector = connector

    def scans(self) -> list[HistoryScan]:
        """Every readable entry, oldest first."""
        entries = self.connector.xrange(MessageEndpoints.scan_history())
        msgs = [e.get("data") for e in entries]
        return [HistoryScan(m) for m in msgs if m is not None and os.access(m.file_path, os.R_OK)]

    def by_number(self, scan_number: int) -> HistoryScan:
        """The newest entry with this scan number.

        Raises:
            KeyError: no such scan in the history.
        """
        for scan in reversed(self.scans()):
            if scan.scan_number == scan_number:
                return scan
        raise KeyError(f"scan {scan_number} is not in the scan history")

    def __len__(self) -> int:
        return len(self.scans())

    def __getitem__(self, index: int) -> HistoryScan:
        return self.scans()[index]

    def __repr__(self) -> str:
        scans = self.scans()
        return f"<ScanHistory: {len(scans)} scans" + (f", newest {scans[-1]!r}>" if scans else ">")
