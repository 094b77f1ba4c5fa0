"""Python values to HDF5 the way stock BEC's writer stores them.

Rules (read from stock's behaviour and its files): ``None`` is left out; a dict becomes a
group; a list of dicts, or a list mixing types, becomes one JSON string; anything else
goes to ``create_dataset`` as it is (text → variable-length UTF-8 strings, Python ints →
int64, floats → float64, numpy scalars keep their dtype, an empty list is float64 ``[0]``).
A value h5py cannot store is logged and left out, the rest of the group is still written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

log = logging.getLogger(__name__)

DEVICES_PATH = "/entry/collection/devices"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def dataset_value(value: Any) -> Any:
    """What stock hands to ``create_dataset`` for ``value`` (lists of dicts and mixed lists as JSON)."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list) and value:
        if isinstance(value[0], dict) or not all(isinstance(x, type(value[0])) for x in value):
            return json.dumps(value, default=_jsonable)
    return value


def write_value(group: h5py.Group, name: str, value: Any) -> None:
    """Write one value under ``group/name`` (a dataset, or a group for a dict)."""
    if value is None:
        return
    if isinstance(value, Mapping):
        write_mapping(group.require_group(name), value)
        return
    try:
        if name in group:
            del group[name]
        group.create_dataset(name, data=dataset_value(value))
    except Exception as exc:  # stock logs and goes on with the next value
        log.error("cannot write %s/%s (%s): %s", group.name, name, type(value).__name__, exc)


def write_mapping(group: h5py.Group, data: Mapping[str, Any]) -> None:
    """Write every entry of ``data`` into ``group``."""
    for key, value in data.items():
        write_value(group, str(key), value)


def same(a: Any, b: Any) -> bool:
    """True if two values would be stored alike (numpy-safe, never raises)."""
    if type(a) is not type(b):
        return False
    try:
        return bool(np.all(a == b)) if isinstance(a, np.ndarray) else bool(a == b)
    except Exception:
        return False


def update_mapping(group: h5py.Group, data: Mapping[str, Any], written: Mapping[str, Any] | None) -> None:
    """Make ``group`` hold ``data`` when it already holds ``written``: only what changed is rewritten."""
    if written is None:
        write_mapping(group, data)
        return
    for key, value in data.items():
        key = str(key)
        old = written.get(key)
        if isinstance(value, Mapping):
            if key in group and not isinstance(group[key], h5py.Group):
                del group[key]
            update_mapping(group.require_group(key), value, old if isinstance(old, Mapping) else {})
        elif value is None:
            if key in group:
                del group[key]
        elif key not in written or not same(old, value):
            write_value(group, key, value)
    for key in written:
        if key not in data and str(key) in group:
            del group[str(key)]


def mark_signal_group(group: h5py.Group) -> None:
    """``devices/<dev>/<dev>`` (the device's main signal) is an NXdata group with signal ``value``."""
    parent = group.parent
    if parent.parent.name == DEVICES_PATH and group.name.rsplit("/", 1)[-1] == parent.name.rsplit("/", 1)[-1]:
        if group.attrs.get("NX_class") != "NXdata":
            group.attrs["NX_class"] = "NXdata"
            group.attrs["signal"] = "value"


def set_attrs(obj: h5py.HLObject, attrs: Mapping[str, Any]) -> None:
    """Set the attributes that are not ``None``."""
    for name, value in attrs.items():
        if value is not None:
            obj.attrs[name] = value


def nx_group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    """``parent/name`` (created if absent) with its ``NX_class``."""
    group = parent.require_group(name)
    group.attrs["NX_class"] = nx_class
    return group
