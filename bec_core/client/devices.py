"""Device proxies: ``dev.samx`` stands for a device that lives in the device server.

Built from ``info/devices/config`` and ``info/devices/info/<dev>``. Cached
reads are one ``GET`` of a key the device server keeps up to date; uncached
reads and every other device method go through a ``device_rpc`` request.
A proxy carries ``_bec_device_name``, so passing ``dev.samx`` as a scan
argument encodes it as the ``DeviceBase`` envelope stock clients send.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bec_core.client.errors import UnknownDeviceError
from bec_core.endpoints import MessageEndpoints

if TYPE_CHECKING:
    from bec_core.client.client import BECClient
    from bec_core.client.movement import MoveStatus


class SignalProxy:
    """One signal of a device (``dev.samx.velocity``): ``get()``, ``read()``, ``put(v)``."""

    def __init__(self, device: DeviceProxy, attr: str, info: dict[str, Any]) -> None:
        self._device = device
        self._attr = attr
        self._info = info
        self.name: str = info.get("obj_name") or f"{device.name}_{attr}"
        self.kind: str = info.get("kind_str", "normal")

    @property
    def _bec_device_name(self) -> str:
        return f"{self._device.name}.{self._attr}"

    def get(self, cached: bool = False) -> Any:
        """The signal's value (from the device server, or from the last read with ``cached``)."""
        if cached:
            return self.read(cached=True).get(self.name, {}).get("value")
        return self._device._rpc(f"{self._attr}.get")

    def read(self, cached: bool = False) -> dict[str, Any]:
        """``{name: {"value", "timestamp"}}`` as ophyd's ``read()``."""
        if cached:
            source = self._device.read_configuration if self.kind == "config" else self._device.read
            signals = source(cached=True)
            return {self.name: signals[self.name]} if self.name in signals else {}
        return self._device._rpc(f"{self._attr}.read")

    def put(self, value: Any) -> None:
        """Write the signal on the device server."""
        self._device._rpc(f"{self._attr}.put", value)

    def describe(self) -> dict[str, Any]:
        """The signal's description as published by the device server."""
        return {self.name: self._info.get("describe", {})}

    def __repr__(self) -> str:
        return f"<signal {self.name} of {self._device.name} ({self.kind})>"


class DeviceProxy:
    """A device of the session. ``read``, ``position``, ``limits``, ``set`` (a move), ``describe``."""

    def __init__(self, client: BECClient, config: dict[str, Any], info: dict[str, Any]) -> None:
        self._client = client
        self._config = config
        self._info = info
        self.name: str = config["name"]
        self._bec_device_name = self.name
        self._signals = {
            attr: SignalProxy(self, attr, sig) for attr, sig in (info.get("signals") or {}).items()
        }

    # ------------------------------------------------------------------ description
    @property
    def enabled(self) -> bool:
        """Whether the device is enabled in the session."""
        return bool(self._config.get("enabled", True))

    @property
    def readout_priority(self) -> str:
        """``monitored``, ``baseline``, ``async``, ``on_request`` or ``continuous``."""
        return str(self._config.get("readoutPriority", "baseline"))

    @property
    def device_class(self) -> str:
        """The device's class on the device server."""
        return str(self._info.get("device_class") or self._config.get("deviceClass", ""))

    @property
    def is_positioner(self) -> bool:
        """True for devices that move (``umv`` and scans accept them as motors)."""
        return self._info.get("device_base_class") == "positioner"

    @property
    def hints(self) -> list[str]:
        """The signal names the device wants shown (its ``hints.fields``)."""
        return list((self._info.get("hints") or {}).get("fields") or [])

    @property
    def readback_name(self) -> str:
        """The name of the signal that holds the device's value."""
        hints = self.hints
        return hints[0] if hints else self.name

    @property
    def signals(self) -> dict[str, SignalProxy]:
        """The device's signals by attribute name."""
        return dict(self._signals)

    def describe(self) -> dict[str, Any]:
        """ophyd's ``describe()`` of the device, as published by the device server."""
        return dict(self._info.get("describe") or {})

    def describe_configuration(self) -> dict[str, Any]:
        """ophyd's ``describe_configuration()`` of the device."""
        return dict(self._info.get("describe_configuration") or {})

    # ------------------------------------------------------------------ reading
    def read(self, cached: bool = True) -> dict[str, Any]:
        """``{signal: {"value", "timestamp"}}``: the last reading, or a fresh one with ``cached=False``."""
        if not cached:
            return self._rpc("read")
        msg = self._client.connector.get(MessageEndpoints.device_read(self.name))
        return dict(msg.signals) if msg is not None else {}

    def read_configuration(self, cached: bool = True) -> dict[str, Any]:
        """The configuration signals (``velocity``, ...), cached or fresh."""
        if not cached:
            return self._rpc("read_configuration")
        msg = self._client.connector.get(MessageEndpoints.device_read_configuration(self.name))
        return dict(msg.signals) if msg is not None else {}

    @property
    def position(self) -> Any:
        """The current readback value (from the device server's latest readback)."""
        c = self._client.connector
        for endpoint in (
            MessageEndpoints.device_readback(self.name),
            MessageEndpoints.device_read(self.name),
        ):
            msg = c.get(endpoint)
            if msg is not None and self.readback_name in msg.signals:
                return msg.signals[self.readback_name].get("value")
        return None

    def get(self) -> Any:
        """Alias of :attr:`position` for readable devices (cached readback value)."""
        return self.position

    @property
    def limits(self) -> list[float]:
        """``[low, high]`` travel limits; ``[0, 0]`` means none."""
        msg = self._client.connector.get(MessageEndpoints.device_limits(self.name))
        if msg is None:
            return [0.0, 0.0]
        sig = msg.signals
        return [sig.get("low", {}).get("value", 0.0), sig.get("high", {}).get("value", 0.0)]

    @property
    def low_limit(self) -> float:
        """Lower travel limit."""
        return self.limits[0]

    @property
    def high_limit(self) -> float:
        """Upper travel limit."""
        return self.limits[1]

    # ------------------------------------------------------------------ acting
    def set(self, value: float) -> MoveStatus:
        """Start a move to ``value`` (an ``mv``); call ``.wait()`` on the result to wait."""
        return self._client.mv(self, value)

    def move(self, value: float, relative: bool = False) -> MoveStatus:
        """Start a move (absolute unless ``relative``)."""
        return self._client.mv(self, value, relative=relative)

    def stop(self) -> None:
        """Stop the device now (``user/queue/stop_devices``)."""
        from bec_core.messages import VariableMessage

        self._client.connector.send(MessageEndpoints.stop_devices(), VariableMessage(value=[self.name]))

    def rpc(self, func: str, *args: Any, **kwargs: Any) -> Any:
        """Call any public method of the device on the device server."""
        return self._rpc(func, *args, **kwargs)

    def _rpc(self, func: str, *args: Any, **kwargs: Any) -> Any:
        return self._client.rpc(self.name, func, *args, **kwargs)

    # ------------------------------------------------------------------ python protocol
    def __getattr__(self, name: str) -> SignalProxy:
        signals = self.__dict__.get("_signals", {})
        if name in signals:
            return signals[name]
        raise AttributeError(f"device {self.__dict__.get('name')!r} has no attribute or signal {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._signals))

    def __hash__(self) -> int:
        return hash(("device", self.name))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceProxy) and other.name == self.name

    def __repr__(self) -> str:
        return f"<device {self.name} ({self.device_class}, {self.readout_priority})>"


class DeviceContainer:
    """``dev``: every device of the session as an attribute (tab-completable) or by ``dev["samx"]``."""

    def __init__(self, devices: dict[str, DeviceProxy] | None = None) -> None:
        self._devices: dict[str, DeviceProxy] = dict(devices or {})

    def _replace(self, devices: dict[str, DeviceProxy]) -> None:
        self._devices = dict(devices)

    def __getattr__(self, name: str) -> DeviceProxy:
        if name.startswith("__"):
            raise AttributeError(name)
        devices = self.__dict__.get("_devices", {})
        if name in devices:
            return devices[name]
        raise UnknownDeviceError(unknown_device_text(name, devices))

    def __getitem__(self, name: str) -> DeviceProxy:
        return self.__getattr__(name)

    def __contains__(self, name: object) -> bool:
        return name in self._devices

    def __iter__(self) -> Iterator[DeviceProxy]:
        return iter(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)

    def __dir__(self) -> list[str]:
        return sorted(self._devices)

    def names(self) -> list[str]:
        """All device names."""
        return list(self._devices)

    def get(self, name: str, default: Any = None) -> DeviceProxy | Any:
        """The device called ``name``, else ``default``."""
        return self._devices.get(name, default)

    def resolve(self, value: Any) -> DeviceProxy:
        """A proxy for a proxy or a device name; :class:`UnknownDeviceError` otherwise."""
        name = getattr(value, "_bec_device_name", value)
        if isinstance(name, str) and name in self._devices:
            return self._devices[name]
        if isinstance(name, str) and "." in name and name.split(".")[0] in self._devices:
            return value
        raise UnknownDeviceError(unknown_device_text(str(name), self._devices))

    def monitored(self) -> list[str]:
        """Names of the enabled devices read at every point."""
        return [d.name for d in self if d.enabled and d.readout_priority == "monitored"]

    def __repr__(self) -> str:
        return f"<{len(self)} devices: {', '.join(self._devices)}>"


def unknown_device_text(name: str, devices: dict[str, Any]) -> str:
    """``unknown device 'samq' (did you mean 'samx'?); known devices: ...``."""
    close = difflib.get_close_matches(name, list(devices), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = ", ".join(sorted(devices)) or "none"
    return f"unknown device {name!r}{hint}; known devices: {known}"
