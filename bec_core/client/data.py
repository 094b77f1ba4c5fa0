"""Collect a scan's points (``ScanMessage``s) into numpy arrays; export them as CSV.

Points arrive on ``info/scans/scan_segment`` one by one or as a list (a
BundleMessage), possibly out of order or twice; :class:`ScanData` keeps them
by ``point_id`` and builds arrays ordered by it.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np


class SignalData(Mapping[str, np.ndarray]):
    """The signals of one device: ``data.samx["samx"]`` or ``data.samx.samx`` → array over points."""

    def __init__(self, device: str, signals: dict[str, np.ndarray]) -> None:
        self._device = device
        self._signals = signals

    def __getitem__(self, key: str) -> np.ndarray:
        return self._signals[key]

    def __getattr__(self, key: str) -> np.ndarray:
        try:
            return self._signals[key]
        except KeyError:
            raise AttributeError(f"device {self._device!r} has no signal {key!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._signals)

    def __len__(self) -> int:
        return len(self._signals)

    def __dir__(self) -> list[str]:
        return sorted(self._signals)

    def __repr__(self) -> str:
        return f"SignalData({self._device!r}, signals={list(self._signals)})"


class DataView(Mapping[str, SignalData]):
    """Read-only snapshot: device → signal → array (one entry per point, ordered by point_id)."""

    def __init__(self, arrays: dict[str, dict[str, np.ndarray]], point_ids: list[int]) -> None:
        self._devices = {dev: SignalData(dev, sig) for dev, sig in arrays.items()}
        self.point_ids = point_ids

    def __getitem__(self, key: str) -> SignalData:
        return self._devices[key]

    def __getattr__(self, key: str) -> SignalData:
        try:
            return self._devices[key]
        except KeyError:
            raise AttributeError(f"no data for device {key!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)

    def __dir__(self) -> list[str]:
        return sorted(self._devices)

    @property
    def num_points(self) -> int:
        """How many points the snapshot holds."""
        return len(self.point_ids)

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns named ``device.signal`` (``signal`` alone when it equals the device)."""
        cols: dict[str, np.ndarray] = {}
        for dev, signals in self._devices.items():
            for sig, arr in signals.items():
                cols[sig if sig == dev else f"{dev}.{sig}"] = arr
        return cols

    def __repr__(self) -> str:
        return f"DataView({self.num_points} points, devices={list(self._devices)})"


class ScanData:
    """The points of one scan as they arrive; thread-safe.

    ``add(msg)`` takes a ScanMessage (or anything with ``point_id`` and
    ``data``); :meth:`view` returns numpy arrays ordered by point id.
    """

    def __init__(self, scan_id: str | None = None) -> None:
        self.scan_id = scan_id
        self._points: dict[int, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, msg: Any) -> bool:
        """Store one point (a ScanMessage); False if it was a duplicate."""
        point_id = int(msg.point_id)
        with self._lock:
            new = point_id not in self._points
            self._points[point_id] = msg.data
        return new

    def add_many(self, msgs: Iterable[Any]) -> int:
        """Store several points; return how many were new."""
        return sum(self.add(m) for m in msgs)

    def __len__(self) -> int:
        return len(self._points)

    def point(self, point_id: int) -> dict[str, dict[str, Any]] | None:
        """The raw readings of one point (``{device: {signal: {"value", "timestamp"}}}``)."""
        return self._points.get(point_id)

    def missing(self, total: int) -> list[int]:
        """Point ids in ``range(total)`` that have not arrived."""
        with self._lock:
            return [i for i in range(total) if i not in self._points]

    def view(self, field: str = "value") -> DataView:
        """Arrays over points ordered by point id (``field`` = ``"value"`` or ``"timestamp"``).

        A signal missing at some point gets NaN there (or None in an object array).
        """
        with self._lock:
            ids = sorted(self._points)
            points = [self._points[i] for i in ids]
        layout: dict[str, dict[str, None]] = {}
        for data in points:
            for dev, signals in data.items():
                slot = layout.setdefault(dev, {})
                for sig in signals:
                    slot.setdefault(sig, None)
        arrays: dict[str, dict[str, np.ndarray]] = {}
        for dev, signals in layout.items():
            arrays[dev] = {}
            for sig in signals:
                values = [_field(p.get(dev, {}).get(sig), field) for p in points]
                arrays[dev][sig] = _to_array(values)
        return DataView(arrays, ids)

    def to_csv(self, path: str | Path, delimiter: str = ",") -> Path:
        """Write one row per point (``point_id`` then ``device.signal`` columns); return the path."""
        view = self.view()
        cols = view.columns()
        path = Path(path)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter)
            writer.writerow(["point_id", *cols])
            for row, point_id in enumerate(view.point_ids):
                writer.writerow([point_id, *(_cell(arr[row]) for arr in cols.values())])
        return path


def _field(entry: Any, field: str) -> Any:
    if isinstance(entry, dict):
        return entry.get(field)
    return None


def _to_array(values: list[Any]) -> np.ndarray:
    if all(v is None or isinstance(v, (int, float, np.number, bool)) for v in values):
        if any(v is None for v in values):
            return np.array([np.nan if v is None else v for v in values], dtype=float)
        return np.asarray(values)
    try:
        arr = np.asarray(values)
        if arr.dtype != object:
            return arr
    except ValueError:  # ragged (e.g. images of different shapes)
        pass
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return " ".join(str(v) for v in value.ravel())
    if isinstance(value, np.generic):
        return value.item()
    return value
