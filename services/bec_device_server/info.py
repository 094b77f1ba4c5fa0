"""The ``DeviceInfoMessage.info`` of a device (reference 9.1 item 4, BEC's ``device_serializer``).

Everything here calls ophyd (``describe()`` may touch hardware), so it runs in
a worker thread.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """``value`` with tuples as lists and unknown objects as strings (safe for the wire codec)."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (np.generic, np.ndarray)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return str(value)


def base_class(obj: Any) -> str:
    """``positioner``, ``signal``, ``computed_signal`` or ``device``."""
    from ophyd import PositionerBase, Signal

    if isinstance(obj, PositionerBase):
        return "positioner"
    if isinstance(obj, Signal):
        return "computed_signal" if "Computed" in type(obj).__name__ else "signal"
    return "device"


def _signal_entry(component_name: str, sig: Any) -> dict[str, Any]:
    kind = sig.kind
    try:
        describe = sig.describe().get(sig.name, {})
    except Exception as exc:  # a signal that cannot be described must not hide the device
        describe = {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "component_name": component_name,
        "signal_class": type(sig).__name__,
        "obj_name": sig.name,
        "kind_int": int(kind),
        "kind_str": kind.name if kind.name else str(kind),
        "doc": (getattr(sig, "__doc__", "") or "").strip().split("\n")[0],
        "describe": plain(describe),
        "metadata": plain({k: v for k, v in getattr(sig, "metadata", {}).items() if k != "timestamp"}),
        "labels": sorted(getattr(sig, "_ophyd_labels_", set()) or []),
    }


def _signals(obj: Any) -> dict[str, dict[str, Any]]:
    from ophyd import Signal

    if isinstance(obj, Signal):
        return {obj.attr_name or obj.name: _signal_entry(obj.attr_name or obj.name, obj)}
    out: dict[str, dict[str, Any]] = {}
    for walk in obj.walk_signals(include_lazy=False) if hasattr(obj, "walk_signals") else ():
        out[walk.dotted_name] = _signal_entry(walk.dotted_name, walk.item)
    return out


def _sub_devices(obj: Any) -> list[dict[str, Any]]:
    from ophyd import Device

    subs: list[dict[str, Any]] = []
    if not isinstance(obj, Device):
        return subs
    for name in obj.component_names:
        child = getattr(obj, name, None)
        if isinstance(child, Device):
            subs.append(device_info(child))
    return subs


def _signature(func: Any) -> list[dict[str, Any]]:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        {
            "name": p.name,
            "kind": p.kind.name,
            "default": "_empty" if p.default is inspect.Parameter.empty else plain(p.default),
            "annotation": "_empty" if p.annotation is inspect.Parameter.empty else str(p.annotation),
        }
        for p in params
    ]


def _user_access(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in getattr(obj, "USER_ACCESS", []) or []:
        if name.startswith("_") or not hasattr(obj, name):
            continue
        attr = getattr(obj, name)
        if callable(attr) and not hasattr(attr, "read"):
            out[name] = {"type": "func", "doc": inspect.getdoc(attr) or "", "signature": _signature(attr)}
        elif hasattr(attr, "read"):
            out[name] = {"info": device_info(attr), "device_class": type(attr).__name__}
        else:
            out[name] = {"type": type(attr).__name__}
    return out


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return plain(obj.hints)
    except Exception:  # ophyd lets hints raise (SynAxisNoHints)
        return {"fields": []}


def device_info(obj: Any) -> dict[str, Any]:
    """The BEC device-info dict of an ophyd object."""
    try:
        describe = plain(obj.describe())
    except Exception as exc:
        describe = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        describe_configuration = plain(obj.describe_configuration())
    except Exception as exc:
        describe_configuration = {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "device_attr_name": getattr(obj, "attr_name", "") or "",
        "device_dotted_name": getattr(obj, "dotted_name", "") or "",
        "device_base_class": base_class(obj),
        "device_class": type(obj).__name__,
        "ownership_mode": "claimable",
        "read_access": True,
        "write_access": hasattr(obj, "set") and not getattr(obj, "read_only", False),
        "signals": _signals(obj),
        "hints": _hints(obj),
        "describe": describe,
        "describe_configuration": describe_configuration,
        "sub_devices": _sub_devices(obj),
        "custom_user_access": _user_access(obj),
    }


__all__ = ["base_class", "device_info", "plain"]
