"""Which reading a beamline state watches: device and signal names resolved from ``device_info``.

Stock clients name a device by its dotted name (``samx``, ``hexapod.x``) and a
signal by dotted name (``hexapod.x.readback``), by the name it has in the
device's readings (its ``obj_name``), or not at all (the device's first hinted
field). Readings arrive on ``info/devices/readback/<root device>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import BECError
from bec_core.messages import DeviceInfoMessage
from bec_core.redis_connector import AsyncRedisConnector


class StateConfigError(BECError):
    """A beamline state names something that does not exist or is not valid."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a state's value comes from."""

    root: str  #: the top-level device, whose readback carries the reading
    dotted: str  #: the device's dotted name, used in the labels
    obj_name: str  #: the device object's own name (stock's ``device_obj.name``)
    signal: str  #: the key of the reading in the readback's ``signals``


def _find_sub_device(info: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    """The sub-device ``dotted`` (``x``, ``z.zsub``) of a device_info: stock's shape names each one
    by ``device_attr_name`` relative to its parent (an older shape: ``device_dotted_name``)."""
    head, _, rest = dotted.partition(".")
    for sub in info.get("sub_devices") or []:
        if not isinstance(sub, dict):
            continue
        if sub.get("device_dotted_name") == dotted:
            return sub
        if sub.get("device_attr_name") == head:
            found = _find_sub_device(sub, rest) if rest else sub
            if found is not None:
                return found
    return None


def _hinted(info: dict[str, Any]) -> list[str]:
    hints = info.get("hints") or {}
    fields = hints.get("fields") if isinstance(hints, dict) else None
    return [str(f) for f in fields or []]


class DeviceCatalog:
    """Reads ``info/devices/info/<root>`` and resolves a state's device and signal."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector

    async def root_info(self, root: str) -> dict[str, Any] | None:
        """The ``device_info`` dict of a top-level device, ``None`` if it is not known."""
        msg = await self.connector.get(MessageEndpoints.device_info(root))
        if not isinstance(msg, DeviceInfoMessage):
            return None
        info = msg.info.get("device_info", msg.info)
        return info if isinstance(info, dict) else None

    async def resolve(self, state: str, device: str, signal: str | None) -> Target:
        """The :class:`Target` of a state; raises :class:`StateConfigError` with stock's texts."""
        prefix = f"[BL State {state}]:"
        root = device.split(".", 1)[0]
        root_info = await self.root_info(root)
        info = root_info
        if root_info is not None and device != root:
            info = _find_sub_device(root_info, device.split(".", 1)[1])
            if info is None:
                # a dotted name may also be a signal of the root (``samx.readback``)
                component = device.split(".", 1)[1]
                if component in (root_info.get("signals") or {}):
                    return self._signal_device(prefix, device, root, root_info, component, signal)
        if root_info is None or info is None:
            raise StateConfigError(f"{prefix} Device '{device}' not found.")
        if device == root and info.get("device_base_class") in ("signal", "computed_signal"):
            return self._root_signal(prefix, device, signal)
        signals: dict[str, Any] = root_info.get("signals") or {}
        obj_name = device.replace(".", "_")
        if signal is None:
            hinted = _hinted(info)
            if not hinted:
                raise StateConfigError(
                    f"[BL State {state}] No signal specified for device '{device}' and no hints available."
                )
            return Target(root, device, obj_name, hinted[0])
        if "." in signal:
            parent, _, _leaf = signal.rpartition(".")
            component = signal.split(".", 1)[1]
            entry = signals.get(component)
            if not signal.startswith(root + ".") or entry is None:
                raise StateConfigError(f"{prefix} Signal '{signal}' not found for device '{device}'.")
            if parent != device:
                raise StateConfigError(f"{prefix} Signal '{signal}' does not belong to device '{device}'")
            return Target(root, device, obj_name, str(entry.get("obj_name", component)))
        if not any(isinstance(e, dict) and e.get("obj_name") == signal for e in signals.values()):
            raise StateConfigError(
                f"{prefix} Signal '{signal}' not found for device '{device}'. "
                "Make sure to specify the correct signal name as seen in the device's read "
                "dictionary or use the full dotted name of the signal."
            )
        return Target(root, device, obj_name, signal)

    @staticmethod
    def _root_signal(prefix: str, device: str, signal: str | None) -> Target:
        if signal is not None and signal != device:
            raise StateConfigError(f"{prefix} Signal '{signal}' does not match signal device '{device}'.")
        return Target(device, device, device, device)

    @staticmethod
    def _signal_device(
        prefix: str, device: str, root: str, root_info: dict[str, Any], component: str, signal: str | None
    ) -> Target:
        entry = root_info["signals"][component]
        obj_name = str(entry.get("obj_name", component))
        if signal is not None and signal not in (device, obj_name):
            raise StateConfigError(f"{prefix} Signal '{signal}' does not match signal device '{device}'.")
        return Target(root, device, obj_name, obj_name)
