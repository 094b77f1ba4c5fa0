"""Device proxies (``ophyd_devices.DeviceProxy``: ``SlitProxy``, ``H5ImageReplayProxy``), as stock hosts them.

A proxy is an ``ophyd_devices.BECDeviceBase``, not an ophyd object. Its
``deviceConfig`` names the devices it serves, each with the ``signal_name`` it
computes, e.g. ``{eiger: {signal_name: image, ...}}``; the proxy compiles that into
its ``lookup`` when the config is applied (``_update_device_config``). Stock's
device manager builds proxies after every other device and then registers each
with the device it serves: ``target._registered_proxies[proxy_name] = signal_name``.
The served device's simulation then asks the proxy (through ``device_manager``)
for that signal's value, for as long as the proxy is enabled.
"""

from __future__ import annotations

from typing import Any

from bec_core.errors import ConfigError


def register_proxy(obj: Any, devices: Any) -> None:
    """Register ``obj`` (if it is a device proxy) with every device its ``lookup`` names.

    ``devices`` is the ``device_manager.devices`` container devices are given. Raises
    :class:`ConfigError` (stock's texts) if a served device or its signal does not exist,
    or if another enabled proxy already serves that signal.
    """
    lookup = getattr(obj, "lookup", None)
    if not _is_proxy(obj) or not isinstance(lookup, dict):
        return
    name = obj.name
    for target_name, entry in lookup.items():
        signal_name = entry.get("signal_name") if isinstance(entry, dict) else None
        view = devices.get(target_name)
        target = getattr(view, "obj", None) if view is not None else None
        if target is None:
            raise ConfigError(
                f"Failed to init DeviceProxy {name}, no device {target_name} found in device manager."
            )
        if not isinstance(signal_name, str) or not hasattr(target, signal_name):
            raise ConfigError(
                f"Failed to init DeviceProxy {name}, no signal {signal_name} found for device {target_name}."
            )
        registered = getattr(target, "_registered_proxies", None)
        if not isinstance(registered, dict):
            raise ConfigError(
                f"Failed to init DeviceProxy {name}: device {target_name} "
                f"({type(target).__name__}) takes no proxies"
            )
        for other, signal in registered.items():
            other_view = devices.get(other)
            if other != name and signal == signal_name and other_view is not None and other_view.enabled:
                raise ConfigError(
                    f"Failed to init DeviceProxy {name}, device {target_name} already has a registered "
                    f"DeviceProxy for {signal_name}. Only one DeviceProxy can be active per signal."
                )
        registered[name] = signal_name


def _is_proxy(obj: Any) -> bool:
    try:
        from ophyd_devices import DeviceProxy
    except ImportError:  # pragma: no cover - ophyd_devices is a dependency
        return False
    return isinstance(obj, DeviceProxy)


__all__ = ["register_proxy"]
