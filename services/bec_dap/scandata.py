"""Scan data for fits, read from Redis.

Stock BEC's DAP reads a scan from its client-side scan storage (the points it heard on
``info/scans/scan_segment`` while it was running), so it knows only scans that ran while
it was up. bec-dap reads what the scan server stores instead: the scan's status at
``info/public/<scan_id>/scan_info`` and each point at
``info/public/<scan_id>/scan_segment/<n>`` (kept ``segment_expiry_s``; a long scan keeps
its newest ``public_segment_window`` points), so any scan still in Redis can be fitted,
also one that ended before bec-dap started.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceInfoMessage, ScanMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_dap.errors import DAPDataError, DAPRequestError
from bec_dap.fitting import FitData

_CHUNK = 2000  # keys per MGET
_CACHED_SCANS = 4  # finished scans whose points are kept in memory (repeated fits of one scan)
_TERMINAL = ("closed", "aborted", "halted", "user_completed")


def _name(value: Any, what: str) -> str | None:
    """A device or signal name from the request (stock clients send devices as their names)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DAPDataError(f"{what} must be a device or signal name, not {value!r}")
    return value if what.startswith("signal") else value.split(".")[0]


class Axes:
    """The x and y device/signal names of a fit; a signal left out is resolved from the data."""

    def __init__(self, device_x: Any, signal_x: Any, device_y: Any, signal_y: Any) -> None:
        self.device_x = _name(device_x, "device_x")
        self.signal_x = _name(signal_x, "signal_x")
        self.device_y = _name(device_y, "device_y")
        self.signal_y = _name(signal_y, "signal_y")

    def source(self, scan_id: str) -> dict[str, Any]:
        """The ``input`` entries of the fit report."""
        return {
            "scan_id": scan_id,
            "device_x": self.device_x,
            "signal_x": self.signal_x,
            "device_y": self.device_y,
            "signal_y": self.signal_y,
        }


def pick_signal(device: str, signal: str | None, point: Mapping[str, Any], hints: list[str]) -> str:
    """The signal of ``device`` to use: the one named, else its single hinted one, else the one
    named like the device, else its only one.

    Raises:
        DAPDataError: the device or signal is not in the scan's data; the text lists what is.
    """
    signals = point.get(device)
    if not isinstance(signals, Mapping):
        raise DAPDataError(
            f"device {device!r} is not in the scan's data; it has {', '.join(sorted(point)) or 'no devices'}"
        )
    if signal is not None:
        # a signal object arrives as its dotted path (samx.readback): try its data names
        attr = signal.rsplit(".", 1)[-1]
        for candidate in (signal, attr, f"{device}_{attr}", *((device,) if attr == "readback" else ())):
            if candidate in signals:
                return candidate
        have = ", ".join(sorted(signals))
        raise DAPDataError(f"signal {signal!r} of {device!r} is not in the scan's data; it has {have}")
    for candidate in (*(hints if len(hints) == 1 else ()), device):
        if candidate in signals:
            return candidate
    if len(signals) == 1:
        return next(iter(signals))
    raise DAPDataError(f"device {device!r} has several signals ({', '.join(sorted(signals))}); name one")


def column(points: Iterable[ScanMessage], device: str, signal: str) -> np.ndarray:
    """The values of ``device.signal`` over the points (NaN where a point lacks it)."""
    values = []
    for msg in points:
        entry = msg.data.get(device, {}).get(signal)
        value = entry.get("value") if isinstance(entry, Mapping) else None
        try:
            values.append(float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            values.append(np.nan)
    return np.asarray(values, dtype=float)


class ScanDataReader:
    """Reads scans and device hints from Redis."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector
        # a finished scan's points no longer change: the newest few are kept (in use order)
        self._finished: OrderedDict[str, list[ScanMessage]] = OrderedDict()
        self._columns: dict[tuple[str, str, str], np.ndarray] = {}

    async def latest_scan_id(self) -> str:
        """The scan of the newest scan status (the running or last scan)."""
        msg = await self.connector.get(MessageEndpoints.scan_status())
        if not isinstance(msg, ScanStatusMessage) or not msg.scan_id:
            raise DAPDataError("no scan given and no scan has run yet")
        return msg.scan_id

    async def scan_status(self, scan_id: str) -> ScanStatusMessage:
        """The stored status of the scan.

        Raises:
            DAPDataError: the scan is unknown (or its data expired).
        """
        msg = await self.connector.get(MessageEndpoints.public_scan_info(scan_id))
        if not isinstance(msg, ScanStatusMessage):
            raise DAPDataError(f"scan {scan_id!r} is not known (never ran, or its data expired from Redis)")
        return msg

    async def points(self, scan_id: str, status: ScanStatusMessage | None = None) -> list[ScanMessage]:
        """The scan's stored points, in point order (from memory for a recently read finished scan)."""
        cached = self._finished.get(scan_id)
        if cached is not None:
            self._finished.move_to_end(scan_id)
            return cached
        found = await self._read_points(scan_id, status)
        if status is not None and status.status in _TERMINAL and found:
            self._finished[scan_id] = found
            while len(self._finished) > _CACHED_SCANS:
                gone, _ = self._finished.popitem(last=False)
                self._columns = {k: v for k, v in self._columns.items() if k[0] != gone}
        return found

    def column(self, scan_id: str, points: list[ScanMessage], device: str, signal: str) -> np.ndarray:
        """:func:`column` of the points, kept for a finished scan's repeated fits."""
        key = (scan_id, device, signal)
        cached = self._columns.get(key)
        if cached is not None and cached.size == len(points):
            return cached
        values = column(points, device, signal)
        if self._finished.get(scan_id) is points:
            values.setflags(write=False)  # shared between requests
            self._columns[key] = values
        return values

    async def _read_points(self, scan_id: str, status: ScanStatusMessage | None) -> list[ScanMessage]:
        expected = status.num_points if status is not None else None
        if expected:
            # one point more than planned: a scan that yielded more is then read by key scan
            found = await self._mget(scan_id, list(range(int(expected) + 1)))
            if len(found) == int(expected):
                return found
        keys = await self.connector.keys(MessageEndpoints.public_scan_segment(scan_id))
        ids: list[int] = sorted(int(k.rsplit("/", 1)[1]) for k in keys if k.rsplit("/", 1)[1].isdigit())
        return await self._mget(scan_id, ids)

    async def _mget(self, scan_id: str, ids: list[int]) -> list[ScanMessage]:
        out: list[ScanMessage] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            values = await self.connector.mget(
                MessageEndpoints.public_scan_segment(scan_id, i) for i in chunk
            )
            out.extend(v for v in values if isinstance(v, ScanMessage))
        return out

    async def hints(self, device: str) -> list[str]:
        """The hinted signal names of a device (``[]`` if unknown)."""
        try:
            msg = await self.connector.get(MessageEndpoints.device_info(device))
        except Exception:
            return []
        if not isinstance(msg, DeviceInfoMessage):
            return []
        info = msg.info.get("device_info", msg.info)
        fields = info.get("hints", {}).get("fields", []) if isinstance(info, Mapping) else []
        return [str(f) for f in fields] if isinstance(fields, list) else []


async def build_fit_data(
    reader: ScanDataReader, scan_id: str, points: list[ScanMessage], motors: list[str] | None, axes: Axes
) -> FitData:
    """x and y of the points for ``axes``; ``device_x`` defaults to the scan's first reported motor
    (as stock's continuous fits do), a signal left out to the device's hinted one.

    Raises:
        DAPRequestError: no ``device_y``.
        DAPDataError: no points, no motor to default to, a device or signal not in the data.
    """
    if axes.device_y is None:
        raise DAPRequestError("device_y is required (or data_x and data_y)")
    if not points:
        raise DAPDataError(f"scan {scan_id!r} has no data points (yet)")
    device_x = axes.device_x or (motors[0] if motors else None)
    if device_x is None:
        raise DAPDataError(f"device_x not given and scan {scan_id!r} reports no motor")
    first = points[0].data
    hints_x = await reader.hints(device_x) if axes.signal_x is None else []
    hints_y = await reader.hints(axes.device_y) if axes.signal_y is None else []
    signal_x = pick_signal(device_x, axes.signal_x, first, hints_x)
    signal_y = pick_signal(axes.device_y, axes.signal_y, first, hints_y)
    axes.device_x, axes.signal_x, axes.signal_y = device_x, signal_x, signal_y
    return FitData(
        x=reader.column(scan_id, points, device_x, signal_x),
        y=reader.column(scan_id, points, axes.device_y, signal_y),
        source=axes.source(scan_id),
    )
