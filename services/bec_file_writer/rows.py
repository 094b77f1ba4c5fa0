"""Monitored readings appended to ``entry/collection/devices`` row by row.

Each ``devices/<device>/<signal>/{value,timestamp}`` of a monitored device is a
one-dimensional (or, for array readings, N+1-dimensional) chunked dataset that grows
along its first axis as points arrive. Rows are collected per column and written in one
block per column at each :meth:`DeviceRows.write` (the writer's flush points): a small
HDF5 write costs about as much as a large one. Its dtype is that of the first reading, as
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

FIELDS = ("value", "timestamp")
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
        self.buffer: list[Any] = []

    def write(self) -> None:
        """Append the collected rows to the dataset (values that do not fit are left out and logged)."""
        values, self.buffer = self.buffer, []
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
        """Rows written so far (without the collected ones)."""
        return int(self.ds.shape[0])


class DeviceRows:
    """The growing datasets of every monitored signal of a scan."""

    def __init__(self, devices: h5py.Group) -> None:
        self.devices = devices
        self.columns: dict[tuple[str, str, str], Column] = {}
        self.points = 0

    def append(self, points: Iterable[Mapping[str, Any]]) -> int:
        """Collect one row per point (``{device: {signal: {"value", "timestamp"}}}``); returns the count.

        A new signal's datasets are created here (from its first reading); rows reach the
        file at :meth:`write`.
        """
        columns = self.columns
        count = 0
        for data in points:
            count += 1
            for device, signals in data.items():
                if not isinstance(signals, dict):  # (dict, not Mapping: this loop is the hot path)
                    continue
                for signal, reading in signals.items():
                    if not isinstance(reading, dict):
                        continue
                    for field in FIELDS:
                        value = reading.get(field)
                        if value is None:
                            continue
                        key = (device, signal, field)
                        column = columns.get(key)
                        if column is None:
                            column = self._create(key, value)
                            if column is None:
                                continue
                        column.buffer.append(value)
        self.points += count
        return count

    def write(self) -> None:
        """Write every collected row to the file."""
        for column in self.columns.values():
            column.write()

    def _create(self, key: tuple[str, str, str], value: Any) -> Column | None:
        device, signal, field = (str(k) for k in key)
        group = self.devices.require_group(device).require_group(signal)
        mark_signal_group(group)
        try:
            column = Column(group, field, value)
        except Exception as exc:
            log.error("cannot create %s/%s: %s", group.name, field, exc)
            return None
        self.columns[key] = column
        return column
