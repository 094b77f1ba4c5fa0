"""The ``DeviceInfoMessage.info`` of a device, in the shape stock BEC 4.3.2's device server publishes.

The shape was recorded from stock's device server (``tests/data/device_info/``,
with the script that regenerates it) and is what ``bec_lib.device`` parses:

* ``signals``: every component below the device that is a plain ophyd Signal
  (not a positioner, not a ComputedSignal, not a sub-device), keyed by its
  dotted component name; a BEC message signal (preview, progress, file event,
  async signals) contributes one entry per signal it declares in its
  ``signal_info``.
* ``sub_devices``: the info of every sub-device, recursively.
* ``custom_user_access``: the ``USER_ACCESS`` names of the object: a method is
  ``{"type": "func", "doc", "signature"}``, a plain value ``{"type": <type
  name>}``, a helper object that is not an ophyd object ``{"info": <its own user
  access map>, "device_class"}``; ophyd objects are left out (they are signals
  or sub-devices already).
* ``hints``, ``describe`` and ``describe_configuration`` (plus ``egu``) of the
  connected device; a device that is not connected gets empty ones.

Everything here calls ophyd (``describe()`` may touch hardware), so it runs in
a worker thread.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator, Mapping
from typing import Any

import msgpack
import numpy as np

from bec_core.errors import ConfigError

#: ``ownership_mode`` values of stock BEC.
FREE, CLAIMABLE, PINNED = "free", "claimable", "pinned"


@functools.lru_cache(maxsize=1)
def protected_names() -> frozenset[str]:
    """Names a signal, device or user-access entry must not take: the attributes of bec_lib's
    client-side device proxy (stock BEC refuses them the same way)."""
    from bec_lib.device import DeviceBaseWithConfig

    return frozenset(n for n in dir(DeviceBaseWithConfig) if not n.startswith("__"))


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
    """``positioner``, ``computed_signal``, ``signal``, ``device`` or ``unknown`` (as stock)."""
    from ophyd import Device, PositionerBase, Signal

    if isinstance(obj, PositionerBase):
        return "positioner"
    if _is_computed(obj):
        return "computed_signal"
    if isinstance(obj, Signal):
        return "signal"
    if isinstance(obj, Device) or _is_bec_device_base(obj):
        return "device"
    return "unknown"


def _is_computed(obj: Any) -> bool:
    try:
        from ophyd_devices import ComputedSignal
    except ImportError:  # pragma: no cover - ophyd_devices is a dependency
        return False
    return isinstance(obj, ComputedSignal)


def _is_bec_device_base(obj: Any) -> bool:
    try:
        from ophyd_devices import BECDeviceBase
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, BECDeviceBase)


def _is_message_signal(obj: Any) -> bool:
    try:
        from ophyd_devices.utils.bec_signals import BECMessageSignal
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, BECMessageSignal)


def ownership_mode(obj: Any) -> str:
    """The class's own ``ownership_mode``, else pinned (PSIDeviceBase), free (read-only signal), claimable."""
    explicit = getattr(type(obj), "ownership_mode", None)
    if explicit is not None:
        value = getattr(explicit, "value", explicit)
        if value not in (FREE, CLAIMABLE, PINNED):
            raise ConfigError(
                f"Invalid ownership_mode {explicit!r} configured on {type(obj).__name__}. "
                f"Expected one of: {FREE}, {CLAIMABLE}, {PINNED}."
            )
        return str(value)
    try:
        from ophyd_devices import PSIDeviceBase

        if isinstance(obj, PSIDeviceBase):
            return PINNED
    except ImportError:  # pragma: no cover
        pass
    if base_class(obj) == "signal" and getattr(obj, "write_access", None) is False:
        return FREE
    return CLAIMABLE


def _numpy_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot pack {type(value).__name__}")


def _serializable(value: Any) -> bool:
    try:
        msgpack.packb(value, default=_numpy_default)
        return True
    except (TypeError, OverflowError, ValueError):
        return False


def _signature(func: Any) -> list[dict[str, Any]]:
    """The signature as bec_lib's client rebuilds it (``bec_lib.signature_serializer``'s format)."""
    from bec_lib.signature_serializer import signature_to_dict

    try:
        return signature_to_dict(func)
    except (TypeError, ValueError):
        return []


def user_access(obj: Any) -> dict[str, Any]:
    """The ``custom_user_access`` map of ``obj`` (see the module docstring)."""
    names = getattr(obj, "USER_ACCESS", None)
    if not names:
        return {}
    out: dict[str, Any] = {}
    for name in sorted(n for n in dir(obj) if n in names):
        member = getattr(obj, name)
        if callable(member):
            out[name] = {"type": "func", "doc": member.__doc__, "signature": _signature(member)}
        elif _serializable(member):
            out[name] = {"type": type(member).__name__}
        elif base_class(member) == "unknown":
            out[name] = {"info": user_access(member), "device_class": type(member).__name__}
    return out


def _component_doc(component: Any) -> str:
    doc = getattr(component, "doc", None)
    return doc if isinstance(doc, str) and not doc.startswith("Component attribute\n::") else ""


def _signal_entry(component_name: str, sig: Any, doc: str) -> dict[str, Any]:
    return {
        "component_name": component_name,
        "signal_class": type(sig).__name__,
        "obj_name": sig.name,
        "kind_int": int(sig.kind.value),
        "kind_str": sig.kind.name,
        "doc": doc,
        "describe": plain(sig.describe().get(sig.name, {})),
        "metadata": plain(dict(getattr(sig, "_metadata", {}) or {})),
        "labels": sorted(getattr(sig, "_ophyd_labels_", set()) or []),
    }


def _message_signal_entries(component_name: str, sig: Any, doc: str) -> Iterator[tuple[str, dict]]:
    from ophyd import Kind

    description = sig.describe().get(sig.name, {})
    info = description.get("signal_info", {}) or {}
    declared = info.get("signals", []) or []
    for signal_name, kind in declared:
        if len(declared) == 1:
            key, obj_name = component_name, sig.name
        else:
            key, obj_name = f"{component_name}.{signal_name}", f"{sig.name}_{signal_name}"
        entry = _signal_entry(component_name, sig, doc)
        entry.update(obj_name=obj_name, storage_name=sig.name, kind_int=int(kind), kind_str=Kind(kind).name)
        yield key, entry


def _signals(obj: Any) -> dict[str, dict[str, Any]]:
    signals: dict[str, dict[str, Any]] = {}
    if not hasattr(obj, "component_names"):
        return signals
    for _ancestor, component_name, component in obj.walk_components():
        sig = getattr(obj, component_name)
        if base_class(sig) != "signal":
            continue
        if component_name in protected_names():
            raise ConfigError(
                f"Signal name {component_name} is protected and cannot be used. Please rename the signal."
            )
        doc = _component_doc(component)
        if _is_message_signal(sig):
            signals.update(_message_signal_entries(component_name, sig, doc))
        else:
            signals[component_name] = _signal_entry(component_name, sig, doc)
    return signals


@contextlib.contextmanager
def eager_connection(obj: Any) -> Iterator[None]:
    """Turn ``lazy_wait_for_connection`` off for ``obj`` and its sub-devices while describing them."""
    saved: list[tuple[Any, bool]] = []

    def collect(dev: Any) -> None:
        if _is_bec_device_base(dev):
            return
        if hasattr(dev, "lazy_wait_for_connection"):
            saved.append((dev, dev.lazy_wait_for_connection))
        for attr, cpt in getattr(dev, "_sig_attrs", {}).items():
            from ophyd import Device

            if isinstance(getattr(cpt, "cls", None), type) and issubclass(cpt.cls, Device):
                collect(getattr(dev, attr))

    collect(obj)
    try:
        for dev, _ in saved:
            dev.lazy_wait_for_connection = False
        yield
    finally:
        for dev, value in saved:
            dev.lazy_wait_for_connection = value


def device_info(obj: Any, connect: bool = True) -> dict[str, Any]:
    """The stock-shaped device-info dict of an ophyd object (``connect=False``: without describing it)."""
    from ophyd import Signal

    access = user_access(obj)
    clash = set(access) & protected_names()
    if clash:
        raise ConfigError(
            f"User access method name {clash} is protected and cannot be used. Please rename the method."
        )
    signals = _signals(obj) if connect else {}
    sub_devices: list[dict[str, Any]] = []
    if connect and hasattr(obj, "walk_subdevices"):
        sub_devices = [device_info(dev, connect=True) for _, dev in obj.walk_subdevices()]
    if isinstance(obj, Signal):
        hints: dict[str, Any] = {"fields": [obj.name]}
    elif connect:
        with eager_connection(obj):
            hints = plain(obj.hints)
    else:
        hints = {}
    if connect:
        describe = plain(obj.describe())
        describe_configuration = plain(
            {**obj.describe_configuration(), "egu": plain(getattr(obj, "egu", None))}
        )
    else:
        describe, describe_configuration = {}, {}
    return {
        "device_attr_name": getattr(obj, "attr_name", ""),
        "device_base_class": base_class(obj),
        "device_class": type(obj).__name__,
        "ownership_mode": ownership_mode(obj),
        "read_access": getattr(obj, "read_access", None),
        "write_access": getattr(obj, "write_access", None),
        "signals": signals,
        "hints": hints,
        "describe": describe,
        "describe_configuration": describe_configuration,
        "sub_devices": sub_devices,
        "custom_user_access": access,
    }


def class_info(cls: type | None, class_name: str) -> dict[str, Any]:
    """The info of a device that is not built (disabled or failed): as stock's unconnected info."""
    kind = "unknown"
    if cls is not None:
        from ophyd import Device, PositionerBase, Signal

        if issubclass(cls, PositionerBase):
            kind = "positioner"
        elif issubclass(cls, Signal):
            kind = "computed_signal" if "ComputedSignal" in {c.__name__ for c in cls.__mro__} else "signal"
        elif issubclass(cls, Device):
            kind = "device"
    return {
        "device_attr_name": "",
        "device_base_class": kind,
        "device_class": class_name,
        "ownership_mode": CLAIMABLE,
        "read_access": None,
        "write_access": None,
        "signals": {},
        "hints": {},
        "describe": {},
        "describe_configuration": {},
        "sub_devices": [],
        "custom_user_access": {},
    }


__all__ = [
    "base_class",
    "class_info",
    "device_info",
    "eager_connection",
    "ownership_mode",
    "plain",
    "protected_names",
    "user_access",
]
