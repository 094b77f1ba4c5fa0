"""One scan's master file, open from the scan's start to its end (used from one thread only).

The file is created at the scan's final path when the scan opens, rows are appended as
points arrive and :meth:`ScanFile.flush` makes what was written consistent on disk (a
*flush point*: another process opening the file then reads everything up to it; see
docs/decisions/0005-file-writer.md). The file is opened without HDF5 file locking so that
readers are not locked out while it is written. ``/entry`` carries bec-core's
``writer_status`` attribute: ``writing`` until the end, then ``complete``, or
``incomplete`` when points are missing (the scan's own exit status is in
``entry/collection/metadata/bec/status``, as stock writes it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import h5py

from bec_file_writer.async_data import AsyncData
from bec_file_writer.errors import FileWriteError
from bec_file_writer.h5tree import DEVICES_PATH, mark_signal_group, nx_group, write_value
from bec_file_writer.layout import ScanSummary, write_closing, write_opening
from bec_file_writer.rows import DeviceRows

log = logging.getLogger(__name__)

STATUS_ATTR = "writer_status"
#: devices whose readings stock's layout also puts under ``entry/sample`` (``name``, ``description``)
SAMPLE_DEVICES = ("samplename", "sample_description")


class ScanFile:
    """The master file of one scan."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: h5py.File | None = None
        self.rows: DeviceRows | None = None
        self.async_data: AsyncData | None = None
        self.baseline_written = False
        self.opened: dict[str, Any] | None = None
        #: readings of the sample devices: a baseline reading, or one per point (as stock keeps them)
        self.sample: dict[str, Any] = {}

    def open(self, summary: ScanSummary | None = None) -> None:
        """Create the directory and the file (replacing a previous one at the path), with what
        is known at the scan's opening (``summary``).

        Raises:
            FileWriteError: the directory or file cannot be created (naming the path).
        """
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o771, exist_ok=True)
            self.file = h5py.File(self.path, "w", locking=False)
        except OSError as exc:
            raise FileWriteError(f"cannot create {self.path}: {exc}") from exc
        entry = nx_group(self.file, "entry", "NXentry")
        entry.attrs[STATUS_ATTR] = "writing"
        collection = nx_group(entry, "collection", "NXcollection")
        devices = nx_group(collection, "devices", "NXcollection")
        self.rows = DeviceRows(devices)
        self.async_data = AsyncData(devices)
        if summary is not None:
            self.opened = write_opening(self.file, summary)
        self.file.flush()

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self.file is not None

    def _require(self) -> h5py.File:
        if self.file is None:
            raise FileWriteError(f"{self.path} is not open")
        return self.file

    def write_baseline(self, data: Mapping[str, Any]) -> None:
        """The baseline readings: ``devices/<device>/<signal>/{value,timestamp}`` as scalars."""
        f = self._require()
        devices = f[DEVICES_PATH]
        for device, signals in data.items():
            if not isinstance(signals, Mapping):
                continue
            group = devices.require_group(str(device))
            for signal, reading in signals.items():
                if not isinstance(reading, Mapping):
                    continue
                sub = group.require_group(str(signal))
                for field, value in reading.items():
                    write_value(sub, str(field), value)
                if len(sub):
                    mark_signal_group(sub)
            if device in SAMPLE_DEVICES:
                self.sample[str(device)] = signals
        self.baseline_written = True

    def append(self, points: Iterable[Mapping[str, Any]]) -> int:
        """Collect one row per point's data (written at the next flush); returns the number of points."""
        self._require()
        assert self.rows is not None
        points = points if isinstance(points, list) else list(points)
        for data in points:
            for device in SAMPLE_DEVICES:
                reading = data.get(device)
                if reading is not None:
                    kept = self.sample.setdefault(device, [])
                    if isinstance(kept, list):
                        kept.append(reading)
        return self.rows.append(points)

    def write_async(self, data: Mapping[str, list[Any]]) -> int:
        """Write async readings (DeviceMessages by device); returns how many."""
        self._require()
        assert self.async_data is not None
        return sum(self.async_data.write(device, msgs) for device, msgs in data.items())

    def finish_async(self) -> None:
        """Write the async readings kept for the end (``replace``)."""
        self._require()
        assert self.async_data is not None
        self.async_data.finish()

    @property
    def points(self) -> int:
        """Points appended so far."""
        return self.rows.points if self.rows is not None else 0

    def flush(self) -> None:
        """Write everything so far to disk (a flush point)."""
        if self.file is not None:
            assert self.rows is not None
            self.rows.write()
            self.file.flush()

    def finish(self, summary: ScanSummary, complete: bool) -> None:
        """Write the end-of-scan layout, mark the file and close it."""
        f = self._require()
        assert self.rows is not None
        self.rows.write()
        if self.opened is None:
            write_opening(f, summary)
        write_closing(f, summary, self.opened, self.path, self.sample)
        f["entry"].attrs[STATUS_ATTR] = "complete" if complete else "incomplete"
        self.close()

    def stored_data_info(self) -> dict[str, dict[str, Any]]:
        """Stock's ``stored_data_info``: shape and dtype of every ``devices/<d>/<s>/value``."""
        out: dict[str, dict[str, Any]] = {}
        f = self.file
        if f is None:
            return out
        assert self.rows is not None
        self.rows.write()
        for device, group in f[DEVICES_PATH].items():
            if not isinstance(group, h5py.Group):
                continue
            for signal, sub in group.items():
                value = sub.get("value") if isinstance(sub, h5py.Group) else None
                if isinstance(value, h5py.Dataset):
                    out.setdefault(device, {})[signal] = {
                        "shape": list(value.shape or (1,)),
                        "dtype": value.dtype.name,
                    }
        return out

    def close(self) -> None:
        """Close the file (idempotent; errors are logged)."""
        if self.file is None:
            return
        try:
            self.file.close()
        except Exception as exc:
            log.error("closing %s failed: %s", self.path, exc)
        self.file = None
