"""After an RPC ``set``/``put``/``get``, refresh the device's cached readings, as stock does.

Stock's RPC handler re-reads the device after a value-changing (or value-fetching) call
and SET+PUBLISHes the result, so a client's ``read(cached=True)`` sees the new value: for a
``config`` signal ``device_read_configuration``, for a ``normal``/``hinted`` one
``device_read`` and ``device_readback``, for anything else both. A ``set`` that returns a
Status refreshes when the Status finishes (before its ``req_status`` is written).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceMessage
from bec_device_server.bridge import call
from bec_device_server.publish import Readings

if TYPE_CHECKING:
    from bec_device_server.devices import DeviceEntry
    from bec_device_server.server import DeviceServer

log = logging.getLogger(__name__)

_REFRESHING = frozenset({"set", "put", "get"})


def read_redirect(root: Any, parent: Any, parts: list[str]) -> str | None:
    """What a ``read``/``read_configuration`` RPC really runs, as stock: the *root* device's
    ``read`` (published to its cache and returned whole; the client filters) or
    ``read_configuration``; an ``omitted`` signal's ``read`` runs as asked (None)."""
    import ophyd

    if not parts or parts[-1] not in ("read", "read_configuration"):
        return None
    if parts[-1] == "read_configuration":
        return "read_configuration"
    obj = parent if len(parts) > 1 else root
    kind = getattr(obj, "kind", None)
    if kind == ophyd.Kind.omitted:
        return None
    if kind == ophyd.Kind.config:
        return "read_configuration"
    return "read"


def refreshes_cache(parts: list[str]) -> bool:
    """True if the RPC path ends in ``set``, ``put`` or ``get`` (stock's rule)."""
    return bool(parts) and parts[-1] in _REFRESHING


def cache_object(root: Any, parent: Any, parts: list[str]) -> Any:
    """The object whose ``kind`` decides what is re-read: the signal of ``x.set``/``x.put``,
    else the device (stock's ``_get_rpc_components``)."""
    if len(parts) > 1 and parts[-1] in ("set", "put") and parent is not None:
        return parent
    return root


async def refresh(server: DeviceServer, entry: DeviceEntry, obj: Any, metadata: dict[str, Any]) -> None:
    """Re-read ``entry`` and publish what ``obj.kind`` calls for (see the module docstring)."""
    import ophyd

    kind = getattr(obj, "kind", None)
    values = kind != ophyd.Kind.config
    config = kind not in (ophyd.Kind.normal, ophyd.Kind.hinted)
    timeout = server.settings.timeouts.device_read
    pipe = server.connector.pipeline()
    readings = Readings()
    try:
        if values:
            signals = await call(
                server.loop,
                server.executor,
                entry.obj.read,
                device=entry.name,
                action="read",
                timeout=timeout,
            )
            entry.last_read = dict(signals)
            readings.add(entry.name, dict(signals), metadata)
        if config and hasattr(entry.obj, "read_configuration"):
            cfg = await call(
                server.loop,
                server.executor,
                entry.obj.read_configuration,
                device=entry.name,
                action="read_configuration",
                timeout=timeout,
            )
            await server.connector.set_and_publish(
                MessageEndpoints.device_read_configuration(entry.name),
                DeviceMessage(signals=dict(cfg), metadata=metadata),
                pipe=pipe,
            )
        readings.flush(pipe)
        await pipe.execute()
    except Exception as exc:  # the RPC itself succeeded; a stale cache is logged, not raised
        log.warning("%s: cache not refreshed after rpc: %s", entry.name, exc)


__all__ = ["cache_object", "read_redirect", "refresh", "refreshes_cache"]
