"""Async device data written into ``entry/collection/devices`` as stock's async writer lays it out.

Devices publish async readings as ``DeviceMessage``\\ s on Redis streams (``async_stream.py``
reads them); each message's ``metadata["async_update"]`` says how its ``value`` joins what is
already in the file:

* ``{"type": "add", "max_shape": [...]}``: rows appended along the first axis. ``max_shape``
  ``[None]`` makes a flat 1-D dataset that grows by the reading's length; ``[None, n]`` rows of
  width ``n`` (a shorter reading fills the start of its row); more than one ``None`` a
  variable-length dataset (one row per reading).
* ``{"type": "add_slice", "index": i, "max_shape": [None, n]}``: the 1-D reading is appended to
  row ``i`` (rows may be revisited; rows skipped are filled with HDF5's fill value). With
  ``[None, None]`` the rows are variable-length.
* ``{"type": "replace"}``: only the newest reading is kept (in memory) and written when the
  scan ends, its timestamps replacing the earlier ones.
* anything else, as stock still accepts: ``"extend"`` is ``add`` with ``[None]``, any other
  value ``add`` with the reading's own shape behind ``None``.

Each signal is ``devices/<device>/<signal>`` (an NXdata group with ``signal = "value"``) holding
``value`` and a 1-D ``timestamp`` that grows by one entry per timestamp received. A reading that
does not fit (wrong rank, an index outside ``max_shape``, wider than ``max_shape``) is left out
or truncated as stock does, and the reason is kept in :attr:`AsyncData.warnings` (the job
raises them as WARNING alarms, as stock's writer does).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import h5py
import numpy as np

log = logging.getLogger(__name__)


class AsyncData:
    """The async signals of one scan's file (used from the file thread only)."""

    def __init__(self, devices: h5py.Group) -> None:
        self.devices = devices
        self.written: dict[str, set[str]] = defaultdict(set)
        self.warnings: list[str] = []
        self._replace: dict[str, np.ndarray] = {}
        self._cursor: dict[str, dict[int, int]] = defaultdict(dict)

    # ------------------------------------------------------------------ public
    def write(self, device: str, messages: Iterable[Any]) -> int:
        """Write the readings of ``messages`` (DeviceMessages of ``device``); returns how many."""
        group = self.devices.require_group(device)
        count = 0
        for msg in messages:
            signals = getattr(msg, "signals", None)
            metadata = getattr(msg, "metadata", None) or {}
            if not isinstance(signals, Mapping):
                continue
            update = metadata.get("async_update")
            for name, reading in signals.items():
                if not isinstance(reading, Mapping):
                    continue
                sub = self._signal_group(group, str(name))
                try:
                    if "value" in reading:
                        self._value(sub, reading["value"], update)
                    if "timestamp" in reading:
                        replace = isinstance(update, Mapping) and update.get("type") == "replace"
                        self._timestamp(sub, reading["timestamp"], replace)
                except (TypeError, ValueError, KeyError) as exc:
                    self._warn(f"{sub.name}: async reading not written: {exc}")
                self.written[device].add(str(name))
            count += 1
        return count

    def finish(self) -> None:
        """Write the ``replace`` readings (the newest of each signal)."""
        for path, value in self._replace.items():
            group = self.devices.file[path]
            if "value" in group:
                del group["value"]
            group.create_dataset("value", data=value, maxshape=value.shape)
        self._replace.clear()

    @property
    def written_signals(self) -> dict[str, list[str]]:
        """The signals written so far, by device."""
        return {device: sorted(names) for device, names in self.written.items()}

    # ------------------------------------------------------------------ value
    def _signal_group(self, device: h5py.Group, name: str) -> h5py.Group:
        sub = device.get(name)
        if isinstance(sub, h5py.Group):
            return sub
        sub = device.create_group(name)
        sub.attrs["NX_class"] = "NXdata"
        sub.attrs["signal"] = "value"
        return sub

    def _value(self, group: h5py.Group, value: Any, update: Any) -> None:
        if isinstance(value, list):
            value = np.array(value)
        if not isinstance(update, Mapping):
            log.warning("%s: async_update %r is not a dict (old device format)", group.name, update)
            if update == "extend":
                update = {"type": "add", "max_shape": [None]}
            else:
                update = {"type": "add", "max_shape": [None, *np.shape(value)]}
        kind = update.get("type")
        if kind == "add":
            self._add(group, value, list(update["max_shape"]))
        elif kind == "add_slice":
            self._add_slice(group, np.asarray(value), list(update["max_shape"]), int(update["index"]))
        elif kind == "replace":
            self._replace[group.name] = np.asarray(value)
        else:
            self._warn(f"{group.name}: unknown async update type {kind!r}; data not written")

    def _add(self, group: h5py.Group, value: Any, max_shape: list[int | None]) -> None:
        undefined = sum(1 for n in max_shape if n is None)
        value = np.asarray(value)
        if "value" not in group:
            if undefined > 1:
                shape = (1,) if value.ndim < len(max_shape) else (value.shape[0],)
                ds = group.create_dataset(
                    "value",
                    shape=shape,
                    maxshape=tuple(None for _ in value.shape),
                    dtype=h5py.vlen_dtype(np.asarray(value[0]).dtype),
                )
                ds[: shape[0]] = value
            else:
                if value.ndim < len(max_shape):
                    value = value.reshape((1, *value.shape))
                group.create_dataset("value", data=value, maxshape=tuple(max_shape))
            return
        ds = group["value"]
        if value.ndim < len(max_shape):
            value = value.reshape((1, *value.shape))
        if len(max_shape) == 1:
            ds.resize((ds.shape[0] + len(value),))
            ds[-len(value) :] = value
        elif len(max_shape) == 2 and max_shape[1] is not None:
            width = min(max_shape[1], value.shape[1])
            ds.resize((ds.shape[0] + value.shape[0], max_shape[1]))
            ds[-value.shape[0] :, :width] = value[:, :width]
        else:
            if max_shape[1] is not None and value.shape[1] > max_shape[1]:
                self._warn(f"{group.name}: reading exceeds max_shape {max_shape}; not written")
                return
            ds.resize((ds.shape[0] + value.shape[0], *ds.shape[1:]))
            ds[-value.shape[0] :, ...] = value

    def _add_slice(self, group: h5py.Group, value: np.ndarray, max_shape: list[int | None], row: int) -> None:
        if len(max_shape) != 2:
            self._warn(f"{group.name}: add_slice needs a 2-D max_shape, got {max_shape}; not written")
            return
        if value.ndim != 1:
            self._warn(f"{group.name}: add_slice needs 1-D data, got shape {value.shape}; not written")
            return
        if row < 0 or (max_shape[0] is not None and row >= max_shape[0]):
            self._warn(f"{group.name}: add_slice row {row} outside max_shape {max_shape}; not written")
            return
        width = max_shape[1]
        if width is None and max_shape[0] is None:
            self._add_slice_vlen(group, value, row)
            return
        if "value" not in group:
            self._first_slice(group, value, max_shape, row)
            return
        if width is None:
            self._warn(f"{group.name}: add_slice with max_shape {max_shape} needs a row width; not written")
            return
        ds = group["value"]
        cursor = self._cursor[group.name]
        col = cursor.get(row, 0)
        if col + len(value) > width:
            self._warn(f"{group.name}: slice for row {row} exceeds max_shape {max_shape}; truncated")
            value = value[: max(0, width - col)]
        ds.resize((max(ds.shape[0], row + 1), width))
        ds[row, col : col + len(value)] = value
        cursor[row] = col + len(value)

    def _add_slice_vlen(self, group: h5py.Group, value: np.ndarray, row: int) -> None:
        if "value" not in group:
            ds = group.create_dataset(
                "value", shape=(row + 1,), maxshape=(None,), dtype=h5py.vlen_dtype(value.dtype)
            )
            ds[row] = value
            return
        ds = group["value"]
        if row >= ds.shape[0]:
            ds.resize((row + 1,))
            ds[row] = value
        else:
            ds[row] = np.concatenate([ds[row], value])

    def _first_slice(
        self, group: h5py.Group, value: np.ndarray, max_shape: list[int | None], row: int
    ) -> None:
        width = max_shape[1]
        block = value.reshape((1, *value.shape))
        if width is not None and block.shape[1] > width:
            self._warn(f"{group.name}: slice exceeds max_shape {max_shape}; truncated")
            block = block[:, :width]
        ds = group.create_dataset("value", data=block, maxshape=tuple(max_shape))
        if row > 0:  # the dtype comes from the data; the skipped rows get the fill value
            ds.resize((0, block.shape[1]))
            ds.resize((row + 1, block.shape[1]))
            if block.size:
                ds[row : row + 1, :] = block
        self._cursor[group.name][row] = block.shape[1]

    # ------------------------------------------------------------------ timestamp
    def _timestamp(self, group: h5py.Group, value: Any, replace: bool) -> None:
        values = value if isinstance(value, (list, np.ndarray)) else [value]
        if "timestamp" not in group:
            group.create_dataset("timestamp", data=values, maxshape=(None,))
            return
        ds = group["timestamp"]
        if replace:
            ds.resize((len(values),))
            ds[:] = values
        else:
            ds.resize((ds.shape[0] + len(values),))
            ds[-len(values) :] = values

    def _warn(self, text: str) -> None:
        log.warning(text)
        self.warnings.append(text)
