"""The scan server's view of the devices: config, readout priorities, limits.

The device server publishes the session's devices in ``info/devices/config``
(an AvailableResourceMessage holding one dict per device) and announces
changes on ``info/devices/config_update``; limits live in
``info/devices/limits/<dev>`` (DeviceMessage with signals ``low``/``high``).

A config change made by a client carries the request's ``RID``: after the
scan server has refreshed its view it acknowledges with ``LPUSH
user/services/response/<RID>`` ``ServiceResponseMessage(response={"accepted":
True, "service": "ScanServer"})`` (EX 100), which a stock client waits for
(reference 6.7, 9.2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AvailableResourceMessage,
    DeviceConfigMessage,
    DeviceInfoMessage,
    DeviceMessage,
    ErrorInfo,
    ServiceResponseMessage,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_scan_server.validation import RequestError

log = logging.getLogger(__name__)

PRIORITIES = ("monitored", "baseline", "async", "continuous", "on_request")
#: how long a config-change acknowledgement stays in ``user/services/response/<RID>`` (as BEC)
ACK_EXPIRY_S = 100
SERVICE_NAME = "ScanServer"


class LimitError(RequestError):
    """A scan or move target outside a device's limits.

    Raised while the accepted request runs (as stock BEC does), so the client
    gets it as an alarm of type ``LimitError`` naming the device.
    """

    def __init__(self, text: str, device: str) -> None:
        super().__init__(text)
        self.error_info = ErrorInfo(
            error_message=text, compact_error_message=text, exception_type="LimitError", device=device
        )


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """What the scan server needs to know about one device."""

    name: str
    enabled: bool = True
    read_only: bool = False
    readout_priority: str = "baseline"
    software_trigger: bool = False

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> DeviceEntry:
        """From one entry of ``info/devices/config``."""
        priority = str(cfg.get("readoutPriority") or "baseline")
        return cls(
            name=str(cfg["name"]),
            enabled=bool(cfg.get("enabled", True)),
            read_only=bool(cfg.get("readOnly", False)),
            readout_priority=priority if priority in PRIORITIES else "baseline",
            software_trigger=bool(cfg.get("softwareTrigger", False)),
        )


def root_of(name: str) -> str:
    """The device a name addresses: ``hexapod`` for the sub-device ``hexapod.x``."""
    return name.split(".", 1)[0]


def signal_name(name: str) -> str:
    """The ophyd signal name of a device or sub-device (``hexapod.x`` reads as ``hexapod_x``)."""
    return name.replace(".", "_")


def owned_devices(readout_priority: dict[str, list[str]]) -> list[str]:
    """The devices a scan works with and stops when it ends early: its monitored and async ones
    (as stock BEC's device locks: baseline and on-request devices are only read, never stopped,
    so an abort does not stop, say, a beam simulation another part of the beamline relies on)."""
    return list(dict.fromkeys([*readout_priority.get("monitored", []), *readout_priority.get("async", [])]))


def component_paths(msg: DeviceInfoMessage | None) -> frozenset[str] | None:
    """Every dotted path below a device that its ``device_info`` names (sub-devices and signals,
    e.g. ``x``, ``x.velocity``, ``z.zsub``); None when there is no device info to tell."""
    if not isinstance(msg, DeviceInfoMessage):
        return None
    info = msg.info.get("device_info", msg.info) if isinstance(msg.info, dict) else {}
    if not isinstance(info, dict):
        return None
    paths: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key in node.get("signals") or {}:
            parts = str(key).split(".")
            paths.update(".".join([*filter(None, [prefix]), *parts[: i + 1]]) for i in range(len(parts)))
        for sub in node.get("sub_devices") or []:
            if isinstance(sub, dict) and sub.get("device_attr_name"):
                path = f"{prefix}.{sub['device_attr_name']}" if prefix else str(sub["device_attr_name"])
                paths.add(path)
                walk(sub, path)

    walk(info, "")
    return frozenset(paths)


def limits_of(msg: DeviceMessage | None) -> tuple[float, float] | None:
    """``(low, high)`` from a limits message; ``None`` when there are none (absent, or low == high)."""
    if msg is None:
        return None
    try:
        low = float(msg.signals["low"]["value"])
        high = float(msg.signals["high"]["value"])
    except (KeyError, TypeError, ValueError):
        return None
    if low == high:
        return None
    return (low, high) if low < high else (high, low)


class DeviceRegistry:
    """Devices by name, refreshed from Redis when the config changes."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector
        self.devices: dict[str, DeviceEntry] = {}
        #: dotted component paths per device, from ``info/devices/info/<dev>`` (read on demand)
        self._components: dict[str, frozenset[str]] = {}
        #: ``device_info`` per device (base class, build error), read on demand
        self._infos: dict[str, dict[str, Any]] = {}

    def load(self, msg: AvailableResourceMessage | None) -> None:
        """Replace the known devices with the content of a config message."""
        devices: dict[str, DeviceEntry] = {}
        resource = msg.resource if msg is not None else []
        if isinstance(resource, dict):
            resource = [{"name": k, **v} for k, v in resource.items() if isinstance(v, dict)]
        for cfg in resource if isinstance(resource, list) else []:
            if isinstance(cfg, dict) and cfg.get("name"):
                devices[str(cfg["name"])] = DeviceEntry.from_config(cfg)
        self.devices = devices
        self._components = {}
        self._infos = {}

    async def refresh(self) -> str | None:
        """Read ``info/devices/config`` again; returns None, or why the old view was kept."""
        try:
            msg = await self.connector.get(MessageEndpoints.device_config())
        except Exception as exc:  # undecodable config (or Redis trouble): keep the old view, say so
            log.error("cannot read the device config: %s", exc)
            return f"cannot read the device config: {exc}"
        self.load(msg if isinstance(msg, AvailableResourceMessage) else None)
        log.info("device config: %d devices", len(self.devices))
        return None

    async def start(self) -> None:
        """Read the config and follow its updates."""
        await self.connector.register(MessageEndpoints.device_config_update(), self._on_update)
        await self.refresh()

    async def _on_update(self, msg: Any) -> None:
        """``info/devices/config_update``: refresh, then acknowledge a client's change (its RID)."""
        problem = await self.refresh()
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for rid in dict.fromkeys(v.metadata.get("RID") for v in values if isinstance(v, DeviceConfigMessage)):
            if isinstance(rid, str) and rid:
                await self.acknowledge(rid, problem)

    async def acknowledge(self, rid: str, problem: str | None = None) -> None:
        """``LPUSH user/services/response/<rid>`` the ScanServer's acknowledgement (EX 100)."""
        response: dict[str, Any] = {"accepted": problem is None, "service": SERVICE_NAME}
        if problem is not None:
            response["message"] = problem
        try:
            await self.connector.lpush(
                MessageEndpoints.service_response(rid),
                ServiceResponseMessage(response=response, metadata={"RID": rid}),
                expire=ACK_EXPIRY_S,
            )
        except Exception as exc:  # Redis trouble: the client times out and says so
            log.error("cannot acknowledge config change %s: %s", rid, exc)

    # ------------------------------------------------------------------ checks
    async def check_devices(self, names: list[str], movable: list[str]) -> None:
        """Raise :class:`RequestError` for an unknown or disabled device, or a read-only motor.

        A dotted name (``hexapod.x``) addresses a sub-device or signal of a device, as the stock
        client sends for ``dev.hexapod.x``: its device must be usable and, when the device server
        has published the device's info, name one of its components.
        """
        if not self.devices or any(root_of(n) not in self.devices for n in names):
            await self.refresh()  # the config may have changed without us hearing it
        for name in names:
            entry = self.devices.get(root_of(name))
            if entry is None:
                known = ", ".join(sorted(self.devices)[:20]) or "none"
                raise RequestError(f"{name}: unknown device (known devices: {known})")
            if not entry.enabled:
                failure = (await self._info(entry.name)).get("build_error")
                if failure:
                    raise RequestError(
                        f"{name}: device failed to build ({str(failure)[:200]}); it stays disabled until "
                        "its config is fixed"
                    )
                raise RequestError(f"{name}: device is disabled")
            if name in movable and entry.read_only:
                raise RequestError(f"{name}: device is read-only and cannot be moved")
            if name != entry.name:
                await self._check_component(name, entry.name)
            elif name in movable and (await self._info(name)).get("device_base_class") == "device":
                raise RequestError(f"{name} is not a positioner: it cannot be scanned or moved")

    async def _info(self, root: str) -> dict[str, Any]:
        """The ``device_info`` dict the device server published for ``root`` (cached until the config
        changes; empty when there is none or it cannot be read)."""
        info = self._infos.get(root)
        if info is None:
            try:
                msg = await self.connector.get(MessageEndpoints.device_info(root))
            except Exception as exc:  # unreadable info: the device server checks the request itself
                log.error("cannot read the device info of %s: %s", root, exc)
                return {}
            raw = msg.info if isinstance(msg, DeviceInfoMessage) and isinstance(msg.info, dict) else {}
            nested = raw.get("device_info", raw)
            info = {
                **(nested if isinstance(nested, dict) else {}),
                **{k: v for k, v in raw.items() if k != "device_info"},
            }
            if isinstance(msg, DeviceInfoMessage):
                self._infos[root] = info
        return info

    async def _check_component(self, name: str, root: str) -> None:
        path = name[len(root) + 1 :]
        paths = self._components.get(root)
        if paths is None:
            try:
                paths = component_paths(await self.connector.get(MessageEndpoints.device_info(root)))
            except Exception as exc:  # unreadable info: the device server checks the name itself
                log.error("cannot read the device info of %s: %s", root, exc)
                return
            if paths is None:
                return  # no info published (yet): the device server resolves the name
            self._components[root] = paths
        if path not in paths:
            subs = sorted(p for p in paths if "." not in p)[:20]
            has = ", ".join(subs) or "none"
            raise RequestError(f"{name}: unknown device ({root} has no component {path!r}; it has: {has})")

    async def limits(self, names: list[str]) -> dict[str, tuple[float, float] | None]:
        """Limits of the devices (one round trip)."""
        if not names:
            return {}
        msgs = await self.connector.mget([MessageEndpoints.device_limits(n) for n in names])
        return {
            n: limits_of(m if isinstance(m, DeviceMessage) else None)
            for n, m in zip(names, msgs, strict=True)
        }

    async def check_limits(self, targets: dict[str, tuple[float, float]]) -> None:
        """Raise :class:`LimitError` naming the first target outside its device's limits."""
        limits = await self.limits(list(targets))
        for name, (lowest, highest) in targets.items():
            lim = limits.get(name)
            if lim is None:
                continue
            low, high = lim
            for target in (lowest, highest):
                if not low <= target <= high:
                    raise LimitError(
                        f"{name}: target {target:g} outside limits [{low:g}, {high:g}]", device=name
                    )

    async def readbacks(self, names: list[str]) -> dict[str, float]:
        """Current positions from the cached readbacks (missing ones left out)."""
        if not names:
            return {}
        msgs = await self.connector.mget([MessageEndpoints.device_readback(root_of(n)) for n in names])
        out = {}
        for name, msg in zip(names, msgs, strict=True):
            value = position_of(name, msg.signals) if isinstance(msg, DeviceMessage) else None
            if value is not None:
                out[name] = value
        return out

    # ------------------------------------------------------------------ readout priority
    def readout_priority(
        self, motors: list[str], monitored: list[str] | None = None, on_request: list[str] | None = None
    ) -> dict[str, list[str]]:
        """Effective groups of enabled devices: motors and ``monitored`` become monitored."""
        groups: dict[str, list[str]] = {p: [] for p in PRIORITIES}
        # devices are read whole: a sub-device (hexapod.x) makes its device monitored
        forced_mon = {root_of(n) for n in [*motors, *(monitored or [])]}
        forced_req = {root_of(n) for n in on_request or []} - forced_mon
        for name, entry in sorted(self.devices.items()):
            if not entry.enabled:
                continue
            if name in forced_mon:
                group = "monitored"
            elif name in forced_req:
                group = "on_request"
            else:
                group = entry.readout_priority
            groups[group].append(name)
        return groups

    def software_triggered(self, names: list[str]) -> list[str]:
        """The devices among ``names`` that get a software trigger."""
        return [n for n in names if (e := self.devices.get(n)) is not None and e.software_trigger]


def position_of(device: str, signals: dict[str, Any]) -> float | None:
    """A device's position from its readings: the signal named like the device, else the first.

    For a sub-device ``hexapod.x`` (whose device's readings are given) that is ``hexapod_x``.
    """
    entry = signals.get(device)
    if entry is None and "." in device:
        entry = signals.get(signal_name(device))
    if entry is None:
        entry = next((v for k, v in signals.items() if not k.endswith("_setpoint")), None)
    try:
        return float(entry["value"]) if entry is not None else None
    except (KeyError, TypeError, ValueError):
        return None
