"""Stock BEC's default NeXus layout, but the device data (``rows.py``, ``scan_file.py``).

Written in two steps, at the scan's opening and at its end: under ``/entry`` the
NXentry attributes and datasets, ``control`` (NXmonitor), ``data`` (NXdata with links to the
scan-report devices), ``sample``, ``instrument/source``; under ``/entry/collection`` the
``metadata`` (the scan's status info, its times and the user metadata), ``readout_groups``
(links per readout priority), ``configuration`` (every device's configuration readings),
``file_references`` (external links to devices' own files) and ``states``.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py

from bec_file_writer.h5tree import nx_group, set_attrs, update_mapping, write_mapping, write_value

SOURCE = {"type": "Synchrotron X-ray Source", "name": "Swiss Light Source", "probe": "x-ray"}
READOUT_GROUPS = ("baseline", "monitored", "async")


@dataclass
class ScanSummary:
    """What the end of a scan adds to its file."""

    scan_id: str
    info: dict[str, Any]
    """The scan's ScanStatusMessage info, with ``status``/``reason`` of its final status."""
    start_time: float | None
    end_time: float | None
    configuration: dict[str, dict[str, Any]] = field(default_factory=dict)
    file_references: dict[str, Any] = field(default_factory=dict)
    """name -> FileMessage of files devices wrote for the scan."""
    program_version: str = ""


def iso(timestamp: float | None) -> str | None:
    """A timestamp in ISO 8601 (local time, as stock writes it)."""
    return None if timestamp is None else datetime.datetime.fromtimestamp(timestamp).isoformat()


def cli_value(value: Any) -> str:
    """A value as it would be typed in a scan call."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{cli_value(k)}: {cli_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(cli_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(cli_value(v) for v in value) + "]"
    return repr(value)


def scan_cli_input(info: Mapping[str, Any]) -> str:
    """``scans.line_scan('samx', -1, 1, steps=10, ...)`` from the scan's request inputs."""
    name = info.get("scan_name")
    if not name:
        return "scans.unknown()"
    inputs = info.get("request_inputs") or {}
    parts = [cli_value(v) for v in inputs.get("arg_bundle") or []]
    parts += [f"{k}={cli_value(v)}" for k, v in (inputs.get("inputs") or {}).items()]
    parts += [f"{k}={cli_value(v)}" for k, v in (inputs.get("kwargs") or {}).items()]
    return f"scans.{name}({', '.join(parts)})"


def info_storage(summary: ScanSummary) -> dict[str, Any]:
    """``entry/collection/metadata``: ``bec`` (the status info), times, user metadata on top."""
    bec = {k: v for k, v in summary.info.items() if k not in ("DIID", "stream")}
    bec["scan_cli_input"] = scan_cli_input(bec)
    out: dict[str, Any] = {"bec": bec}
    if summary.start_time is not None:
        out["start_time"] = iso(summary.start_time)
    if summary.end_time is not None:
        out["end_time"] = iso(summary.end_time)
    user = bec.get("user_metadata")
    if not isinstance(user, Mapping):
        user = (bec.get("metadata") or {}).get("user_metadata")
    if isinstance(user, Mapping):
        out.update(user)
    return out


def write_opening(f: h5py.File, summary: ScanSummary) -> dict[str, Any]:
    """What is known when the scan opens; returns what was written (for :func:`write_closing`).

    Written at the start so that the scan's end costs little: the metadata of the ``open``
    status, the readout groups, the device configuration as it is at the start (the end
    rewrites what changed: the file holds the configuration at the scan's end, as stock's),
    the empty ``file_references`` and ``states`` groups and ``/entry``'s fixed parts.
    """
    entry = f.require_group("entry")
    collection = nx_group(entry, "collection", "NXcollection")
    metadata = info_storage(summary)
    write_mapping(nx_group(collection, "metadata", "NXcollection"), metadata)
    _readout_groups(collection, summary.info)
    write_mapping(nx_group(collection, "configuration", "NXcollection"), summary.configuration)
    nx_group(collection, "file_references", "NXcollection")
    nx_group(collection, "states", "NXcollection")
    set_attrs(entry, {"NX_class": "NXentry", "start_time": iso(summary.start_time), "version": 1.0})
    write_value(entry, "entry_identifier_uuid", summary.info.get("scan_id") or summary.scan_id)
    entry["entry_identifier_uuid"].attrs["description"] = "Scan identifier (scan_id) used by BEC"
    write_value(entry, "program_name", "BEC")
    entry["program_name"].attrs["version"] = summary.program_version
    control = nx_group(entry, "control", "NXmonitor")
    write_value(control, "mode", "monitor")
    nx_group(entry, "sample", "NXsample")
    source = nx_group(nx_group(entry, "instrument", "NXinstrument"), "source", "NXsource")
    for key, value in SOURCE.items():
        write_value(source, key, value)
    return {"metadata": metadata, "configuration": summary.configuration}


def write_closing(
    f: h5py.File,
    summary: ScanSummary,
    opened: Mapping[str, Any] | None,
    master_path: str,
    sample: Mapping[str, Any] | None = None,
) -> None:
    """What the scan's end adds: the final metadata and device configuration (rewriting only
    what changed since the opening), the readout groups, links to devices' files, the times,
    ``entry/data`` and ``entry/sample`` (``sample``: the readings of the ``samplename`` and
    ``sample_description`` devices, if the scan read them)."""
    entry = f.require_group("entry")
    collection = nx_group(entry, "collection", "NXcollection")
    metadata = info_storage(summary)
    opened = opened or {}
    update_mapping(nx_group(collection, "metadata", "NXcollection"), metadata, opened.get("metadata"))
    _readout_groups(collection, summary.info)
    update_mapping(
        nx_group(collection, "configuration", "NXcollection"),
        summary.configuration,
        opened.get("configuration"),
    )
    refs = nx_group(collection, "file_references", "NXcollection")
    for name, msg in summary.file_references.items():
        _file_reference(refs, name, msg, master_path)
    nx_group(collection, "states", "NXcollection")
    start, end = iso(summary.start_time), iso(summary.end_time)
    set_attrs(entry, {"NX_class": "NXentry", "start_time": start, "end_time": end, "version": 1.0})
    write_value(entry, "start_time", start)
    write_value(entry, "end_time", end)
    if metadata.get("title"):
        write_value(entry, "title", metadata["title"])
    _write_data(entry, summary.info.get("scan_report_devices") or [])
    _write_sample(nx_group(entry, "sample", "NXsample"), sample or {})


def _write_sample(group: h5py.Group, sample: Mapping[str, Any]) -> None:
    """``entry/sample/name`` and ``description`` from the ``samplename`` and ``sample_description``
    devices, as stock stores a device's data there: a baseline reading becomes a group
    (``name/samplename/{value,timestamp}``), monitored readings one JSON text (a list of dicts)."""
    for field_name, device in (("name", "samplename"), ("description", "sample_description")):
        if device in sample:
            write_value(group, field_name, sample[device])


def _readout_groups(collection: h5py.Group, info: Mapping[str, Any]) -> None:
    groups = nx_group(collection, "readout_groups", "NXcollection")
    priorities = info.get("readout_priority") or {}
    for name in READOUT_GROUPS:
        if name not in priorities:
            continue
        group = nx_group(groups, name, "NXcollection")
        for device in priorities.get(name) or []:
            if device not in group:
                group[device] = h5py.SoftLink(f"/entry/collection/devices/{device}")


def _file_reference(refs: h5py.Group, name: str, msg: Any, master_path: str) -> None:
    path = getattr(msg, "file_path", None)
    if name == "master" or getattr(msg, "is_master_file", False) or not path or path == master_path:
        return
    if not os.path.exists(path):
        return
    target = os.path.relpath(path, os.path.dirname(master_path))
    group = refs.require_group(name)
    entries = getattr(msg, "hinted_h5_entries", None) or {"data": "/"}
    for entry_name, entry_path in entries.items():
        if entry_name not in group:
            group[entry_name] = h5py.ExternalLink(target, entry_path)


def _value_shape(f: h5py.File, device: str) -> tuple[int, ...] | None:
    ds = f.get(f"/entry/collection/devices/{device}/{device}/value")
    return ds.shape if isinstance(ds, h5py.Dataset) else None


def _write_data(entry: h5py.Group, report_devices: list[str]) -> None:
    data = nx_group(entry, "data", "NXdata")
    if not report_devices:
        return
    f = entry.file
    primary = report_devices[0]
    data.attrs["signal"] = primary
    shape = _value_shape(f, primary)
    linked = [primary]
    aux = [d for d in report_devices[1:] if shape is not None and _value_shape(f, d) == shape]
    if aux:
        data.attrs["auxiliary_signals"] = aux
        linked += aux
    for device in linked:
        if _value_shape(f, device) is not None and device not in data:
            data[device] = h5py.SoftLink(f"/entry/collection/devices/{device}/{device}/value")
