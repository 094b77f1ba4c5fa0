"""Constructing one device as stock BEC's device manager does (blocking; runs in a worker thread).

Construction (import, ``__init__``, ``wait_for_connection``, the first
``read()``/``describe()``) is blocking ophyd work; :func:`build_device` is what the
server's thread pool runs per device, :func:`build_order` the order of layers.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from bec_core.errors import ConfigError
from bec_device_server.config import DeviceConfig
from bec_device_server.errors import DeviceConnectionError
from bec_device_server.facade import DeviceManagerFacade
from bec_device_server.info import device_info, eager_connection
from bec_device_server.proxies import register_proxy
from bec_device_server.resolve import is_delayed, split_device_config, wants

log = logging.getLogger(__name__)


@dataclass
class Built:
    """The result of constructing one device in a worker thread."""

    obj: Any
    info: dict[str, Any]
    read: dict[str, Any] | None
    read_configuration: dict[str, Any] | None
    limits: tuple[float, float] | None


#: ``ophyd_devices`` classes (exact classes, not subclasses) whose ``read()`` is pure computation on
#: in-memory values and whose ``set()`` / ``trigger()`` never block (a timed move runs in the
#: device's own thread and finishes the returned status from there): the device server calls them
#: on its event loop instead of hopping to a worker thread per call, as it does for its own sims.
INLINE_CLASSES = (
    "ophyd_devices.sim.sim_positioner.SimPositioner",
    "ophyd_devices.sim.sim_monitor.SimMonitor",
)


def call_policy(cls: type) -> tuple[bool, bool]:
    """(read on the loop, set/trigger/stage/unstage on the loop) for a device class: the class's own
    ``bec_cheap_read`` / ``bec_inline_calls`` attributes, else True for :data:`INLINE_CLASSES`."""
    known = f"{cls.__module__}.{cls.__qualname__}" in INLINE_CLASSES
    cheap = getattr(cls, "bec_cheap_read", None)
    inline = getattr(cls, "bec_inline_calls", None)
    return (known if cheap is None else bool(cheap)), (known if inline is None else bool(inline))


def device_limits(obj: Any) -> tuple[float, float] | None:
    """Travel limits: ``low/high_limit_travel`` signals if present, else ``limits``; None if neither."""
    low = getattr(obj, "low_limit_travel", None)
    high = getattr(obj, "high_limit_travel", None)
    if low is not None and high is not None and hasattr(low, "get"):
        return (float(low.get()), float(high.get()))
    limits = getattr(obj, "limits", None)
    if isinstance(limits, tuple) and len(limits) == 2:
        return (float(limits[0]), float(limits[1]))
    return None


def apply_config(obj: Any, config: dict[str, Any]) -> bool:
    """Apply the ``deviceConfig`` keys the constructor did not take, as stock's ``update_config``.

    ``_update_device_config`` of the device if it has one; ``limits`` on the travel-limit
    signals; ``labels``; a signal is set (and waited for); a method is called with the value;
    any other attribute is assigned. An unknown key is a :class:`ConfigError`. Returns True if
    a signal was set (the first readings must be taken again).
    """
    import ophyd

    if hasattr(obj, "_update_device_config"):
        obj._update_device_config(config)
        return False
    signal_updated = False
    for key, value in config.items():
        if key == "limits" and hasattr(obj, "low_limit_travel") and hasattr(obj, "high_limit_travel"):
            obj.low_limit_travel.set(value[0]).wait(timeout=2)
            obj.high_limit_travel.set(value[1]).wait(timeout=2)
            continue
        if key == "labels":
            obj._ophyd_labels_ = set(value or ())
            continue
        if key == "device_mapping" and not hasattr(obj, key):
            continue
        if key.startswith("_") or not hasattr(obj, key):
            raise ConfigError(f"Unknown config parameter {key} for device of type {type(obj).__name__}.")
        attr = getattr(obj, key)
        if isinstance(attr, ophyd.Signal):
            attr.set(value).wait(timeout=2)
            signal_updated = True
        elif callable(attr):
            attr(value)
        else:
            setattr(obj, key, value)
    return signal_updated


def construct(config: DeviceConfig, cls: type, facade: DeviceManagerFacade) -> tuple[Any, dict[str, Any]]:
    """``cls(**kwargs)`` as stock's device manager builds it; returns (object, keys applied later)."""
    device_config = dict(config.deviceConfig or {})
    device_config.pop("name", None)
    kwargs, rest = split_device_config(cls, device_config)
    kwargs["name"] = config.name
    device_access = rest.pop("device_access", None)
    mapped = device_access is None and rest.get("device_mapping")
    if device_access or mapped or wants(cls, "device_manager"):
        kwargs["device_manager"] = facade
    if wants(cls, "scan_info"):
        kwargs["scan_info"] = facade.scan_info
    return cls(**kwargs), rest


def connect(obj: Any, timeout: float) -> None:
    """``wait_for_connection`` on every signal, lazy ones included (as stock); raises if not connected."""
    if hasattr(obj, "wait_for_connection"):
        with eager_connection(obj):
            try:
                obj.wait_for_connection(all_signals=True, timeout=timeout)
            except TypeError:
                obj.wait_for_connection(timeout=timeout)
        return
    if not getattr(obj, "connected", True):
        raise ConnectionError(f"Failed to establish a connection to device {obj.name}")


def build_device(config: DeviceConfig, cls: type, facade: DeviceManagerFacade) -> Built:
    """Construct, connect, configure and first-read one device (blocking; run it in a worker thread).

    The order is stock's: construct, connect, device info, ``on_connected()``, first
    readings, then the remaining ``deviceConfig`` keys (readings again if they set a signal),
    and a device proxy is registered with the devices it serves. A failure after the
    constructor is a :class:`DeviceConnectionError` (the device is kept, disabled).
    """
    import ophyd

    obj, rest = construct(config, cls, facade)
    try:
        try:
            connect(obj, config.connectionTimeout)
        except Exception as exc:
            raise DeviceConnectionError(
                f"{config.name}: failed to connect: {type(exc).__name__}: {exc}"
            ) from exc
        try:  # past construction a failure keeps the device, disabled, as stock (not a flush)
            info = device_info(obj)
            if hasattr(obj, "on_connected"):
                obj.on_connected()
            read = _first(obj.read, config.name)
            if apply_config(obj, rest):
                read = _first(obj.read, config.name)
            register_proxy(obj, facade.devices)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            raise DeviceConnectionError(
                f"{config.name}: failed to initialise: {type(exc).__name__}: {exc}"
            ) from exc
        return Built(
            obj=obj,
            info=info,
            read=read,
            read_configuration=None
            if isinstance(obj, ophyd.Signal)
            else _first(obj.read_configuration, config.name),
            limits=device_limits(obj),
        )
    except BaseException:
        with contextlib.suppress(Exception):
            obj.destroy()
        raise


def _first(method: Any, name: str) -> dict[str, Any] | None:
    """A first reading for the caches; a failure here does not fail the device (reads have a policy)."""
    try:
        return dict(method())
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        log.warning("%s: first %s() failed: %s", name, method.__name__, exc)
        return None


def build_order(configs: list[DeviceConfig], classes: dict[str, type]) -> list[list[DeviceConfig]]:
    """Layers to build one after the other: a device after the devices it ``needs``; ComputedSignal
    and DeviceProxy classes after all others (as stock). Raises ConfigError for an unknown or
    cyclic ``needs``."""
    by_name = {c.name: c for c in configs}
    depth: dict[str, int] = {}

    def level(name: str, seen: tuple[str, ...]) -> int:
        if name in depth:
            return depth[name]
        if name in seen:
            raise ConfigError(f"Cyclic dependency detected among devices: {[*seen, name]}")
        cfg = by_name[name]
        needs = [n for n in cfg.needs if n in by_name]
        depth[name] = 1 + max((level(n, (*seen, name)) for n in needs), default=-1)
        return depth[name]

    for cfg in configs:
        level(cfg.name, ())
    top = max(depth.values(), default=0) + 1
    for cfg in configs:
        cls = classes.get(cfg.name)
        if cls is not None and is_delayed(cls):
            depth[cfg.name] += top
    layers: dict[int, list[DeviceConfig]] = {}
    for cfg in configs:
        layers.setdefault(depth[cfg.name], []).append(cfg)
    return [layers[k] for k in sorted(layers)]


__all__ = [
    "INLINE_CLASSES",
    "Built",
    "apply_config",
    "build_device",
    "build_order",
    "call_policy",
    "connect",
    "construct",
    "device_limits",
]
