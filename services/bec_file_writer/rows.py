"""Monitored readings appended to ``entry/collection/devices`` row by row.

Each ``devices/<device>/<signal>/{value,timestamp}`` of a monitored device is a
one-dimensional (or, for array readings, N+1-dimensional) chunked dataset that grows
along its first axis as points arrive. Its dtype is that of the first reading, as
stock's writer gets it from the list of all readings (Python floats → float64, ints →
int64, numpy scalars keep theirs, text → UTF-8 strings). A reading that does not fit the
dataset (another shape, text in a number column) is logged and its row left out, as stock
leaves out what it cannot write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import h5py
import numpy as np

from bec_file_writer.h5tree import mark_signal_group

log = logging.getLogger(__name__)

#: aim for chunks of about this many bytes (a few rows for images, thousands for scalars)
CHUNK_BYTES = 64 * 1024


def column_dtype(value: Any) -> tuple[Any, tuple[int, ...]]:
    """The dataset dtype and per-row shape for a first reading ``value``."""
    if isinstance(value, (str, bytes)):
        return h5py.string_dtype("utf-8"), ()
    arr = np.asarray(value)
    if arr.dtype.kind in ("U", "S", "O"):
        return h5py.string_dtype("utf-8"), arr.shape
    return arr.dtype, arr.shape


class Column:
    """One growing dataset."""

    def __init__(self, group: h5py.Group, name: str, first: Any) -> None:
        dtype, shape = column_dtype(first)
        itemsize = max(1, np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64)))
        rows = max(1, min(4096, CHUNK_BYTES // itemsize))
        self.dtype, self.shape = dtype, shape
        self.ds = group.create_dataset(
            name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(rows, *shape)
        )

    def append(self, values: list[Any]) -> None:
        """Append rows (values that do not fit are left out and logged)."""
        if not values:
            return
        try:
            block = np.asarray(values, dtype=self.dtype)
            fits = block.shape[1:] == self.shape
        except (ValueError, TypeError):
            fits = False
        if not fits:
            kept = []
            for value in values:
                try:
                    if np.asarray(value, dtype=self.dtype).shape == self.shape:
                        kept.append(value)
                        continue
                except (ValueError, TypeError):
                    pass
                log.error(
                    "%s: reading %r does not fit %s%s; row left out",
                    self.ds.name,
                    value,
                    self.dtype,
                    self.shape,
                )
            if not kept:
                return
            block = np.asarray(kept, dtype=self.dtype)
        start = self.ds.shape[0]
        self.ds.resize(start + block.shape[0], axis=0)
        self.ds[start:] = block

    @property
    def rows(self) -> int:
        """Rows written so far."""
        return int(self.ds.shape[0])


class DeviceRows:
    """The growing datasets of every monitored signal of a scan."""

    def __init__(self, devices: h5py.Group) -> None:
        self.devices = devices
        self.columns: dict[tuple[str, str, str], Column] = {}
        self.points = 0

    def append(self, points: Iterable[Mapping[str, Any]]) -> int:
        """Append one row per point (``{device: {signal: {"value", "timestamp"}}}``); returns rows added."""
        pending: dict[tuple[str, str, str], list[Any]] = {}
        first: dict[tuple[str, str, str], Any] = {}
        count = 0
        for data in points:
            count += 1
            for device, signals in data.items():
                if not isinstance(signals, Mapping):
                    continue
                for signal, reading in signals.items():
                    if not isinstance(reading, Mapping):
                        continue
                    for field in ("value", "timestamp"):
                        if field in reading and reading[field] is not None:
                            key = (str(device), str(signal), field)
                            pending.setdefault(key, []).append(reading[field])
                            first.setdefault(key, reading[field])
        for key, values in pending.items():
            column = self.columns.get(key)
            if column is None:
                column = self._create(key, first[key])
                if column is None:
                    continue
            column.append(values)
        self.points += count
        return count

    def _create(self, key: tuple[str, str, str], value: Any) -> Column | None:
        device, signal, field = key
        group = self.devices.require_group(device).require_group(signal)
        mark_signal_group(group)
        try:
            column = Column(group, field, value)
        except Exception as exc:
            log.error("cannot create %s/%s: %s", group.name, field, exc)
            return None
        self.columns[key] = column
        return column
