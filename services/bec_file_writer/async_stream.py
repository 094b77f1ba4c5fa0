"""Reading a scan's async device data from Redis, as stock's async writer finds and reads it.

Which streams: for every device of the scan's ``async`` readout group its
``info/devices/async_readback/<scan_id>/<device>`` stream, and for every signal of class
``AsyncSignal``, ``DynamicSignal`` or ``AsyncMultiSignal`` that the device info marks as
saved (``describe.signal_info.saved``) the ``info/devices/async_signal/<scan_id>/<device>/
<storage_name>`` stream, for every device of the current configuration (what stock's device
manager knows). Each stream is read from its start; the cursors move on as entries are read,
at most ``count`` entries per stream per read, so memory is bounded by what one read returns.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import loads

log = logging.getLogger(__name__)

ASYNC_SIGNAL_CLASSES = frozenset({"AsyncSignal", "DynamicSignal", "AsyncMultiSignal"})
_READBACK = "info/devices/async_readback/"
_SIGNAL = "info/devices/async_signal/"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def saved_async_signals(info: Any) -> list[str]:
    """Storage names of the saved async signals in a device info (a DeviceInfoMessage's ``info``)."""
    if not isinstance(info, dict):
        return []
    nested = info.get("device_info")
    signals = (nested if isinstance(nested, dict) else info).get("signals")
    out: list[str] = []
    for entry in (signals or {}).values():
        if not isinstance(entry, dict) or entry.get("signal_class") not in ASYNC_SIGNAL_CLASSES:
            continue
        saved = (entry.get("describe") or {}).get("signal_info", {}).get("saved", False)
        name = entry.get("storage_name")
        if saved and name and name not in out:
            out.append(str(name))
    return out


async def configured_devices(connector: AsyncRedisConnector) -> list[str] | None:
    """Names of the devices in the current configuration (``None``: no configuration stored)."""
    msg = await connector.get(MessageEndpoints.device_config())
    resource = getattr(msg, "resource", None)
    if not isinstance(resource, list):
        return None
    return [str(d["name"]) for d in resource if isinstance(d, dict) and d.get("name")]


async def enabled_devices(connector: AsyncRedisConnector) -> set[str] | None:
    """Names of the enabled devices of the current configuration (``None``: none stored)."""
    msg = await connector.get(MessageEndpoints.device_config())
    resource = getattr(msg, "resource", None)
    if not isinstance(resource, list):
        return None
    return {
        str(d["name"]) for d in resource if isinstance(d, dict) and d.get("name") and d.get("enabled", True)
    }


async def stream_keys(
    connector: AsyncRedisConnector, scan_id: str, async_devices: Iterable[str]
) -> list[str]:
    """The streams of ``scan_id``'s async data (see the module docstring)."""
    keys = [MessageEndpoints.device_async_readback(scan_id, d).endpoint for d in async_devices]
    names = await configured_devices(connector) or []
    infos = await connector.mget([MessageEndpoints.device_info(n) for n in names]) if names else []
    for name, msg in zip(names, infos, strict=True):
        for signal in saved_async_signals(getattr(msg, "info", None)):
            keys.append(MessageEndpoints.device_async_signal(scan_id, name, signal).endpoint)
    return list(dict.fromkeys(keys))


def device_of(key: str) -> str:
    """The device a stream key belongs to."""
    for prefix in (_READBACK, _SIGNAL):
        if key.startswith(prefix):
            parts = key[len(prefix) :].split("/")
            if len(parts) >= 2:
                return parts[1]
    raise ValueError(f"{key} is not an async data stream")


class AsyncStreams:
    """Reads the async streams of one scan from their start."""

    def __init__(self, connector: AsyncRedisConnector, keys: Iterable[str]) -> None:
        self.connector = connector
        self.cursors: dict[str, str] = {key: "0-0" for key in keys}
        self.entries = 0
        self.undecodable = 0

    async def read(self, block_ms: int | None, count: int) -> dict[str, list[Any]]:
        """New entries by device (``block_ms``: wait at most that long for one; ``None``: do not wait)."""
        if not self.cursors:
            return {}
        reply = await self.connector.redis.xread(self.cursors, count=count, block=block_ms)
        out: dict[str, list[Any]] = defaultdict(list)
        for raw_key, entries in reply or []:
            key = _text(raw_key)
            device = device_of(key)
            for entry_id, fields in entries:
                self.cursors[key] = _text(entry_id)
                self.entries += 1
                for raw in fields.values():
                    try:
                        out[device].append(loads(raw))
                    except Exception as exc:  # one bad entry must not stop the others
                        self.undecodable += 1
                        log.error("%s: undecodable async entry %s: %s", key, _text(entry_id), exc)
        return dict(out)
