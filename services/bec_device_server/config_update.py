"""A config ``update`` of ``deviceConfig`` on a live device, as stock BEC applies it.

Stock's device server does not rebuild a device when an ``update`` changes only its
``deviceConfig``: it applies the new keys to the live object (``update_config``: limits on
the travel-limit signals, a signal is set, an attribute assigned), restores the old keys
if that fails, and the stored ``deviceConfig`` is the old one *merged* with the new keys
(stock's SciHub: ``deviceConfig.update(new)``). A rebuild would reset a motor's position
and drop every key the request did not repeat (``dev.samx.limits = [...]`` sends only
``limits``; its ``tolerance`` and ``update_frequency`` must stay).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import ConfigError
from bec_core.messages import DeviceMessage
from bec_device_server.bridge import call
from bec_device_server.build import apply_config, device_limits
from bec_device_server.devices import DeviceEntry

if TYPE_CHECKING:
    from bec_device_server.server import DeviceServer

log = logging.getLogger(__name__)


def merged_device_config(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """The stored ``deviceConfig`` after an update: the old keys, overridden by the new ones."""
    return {**(old or {}), **(new or {})}


def in_place(entry: DeviceEntry, fields: dict[str, Any]) -> bool:
    """True if ``fields`` can be applied to the live device without a rebuild (as stock does)."""
    return (
        entry.enabled
        and "deviceConfig" in fields
        and not ({"enabled", "connectionTimeout"} & set(fields))
        and isinstance(fields["deviceConfig"] or {}, dict)
    )


async def apply_in_place(server: DeviceServer, entry: DeviceEntry, new_keys: dict[str, Any]) -> None:
    """Apply ``new_keys`` to the live object in the pool; on failure restore the old keys.

    Publishes ``device_limits`` if the limits changed. Raises :class:`ConfigError`
    naming the device and what failed.
    """
    old_keys = {k: v for k, v in (entry.config.deviceConfig or {}).items() if k in new_keys}
    timeout = server.settings.timeouts.device_action
    try:
        async with entry.lock:
            await call(
                server.loop,
                server.executor,
                apply_config,
                entry.obj,
                dict(new_keys),
                device=entry.name,
                action="update deviceConfig",
                timeout=timeout,
            )
    except Exception as exc:
        if old_keys:
            try:
                await call(
                    server.loop,
                    server.executor,
                    apply_config,
                    entry.obj,
                    old_keys,
                    device=entry.name,
                    action="restore deviceConfig",
                    timeout=timeout,
                )
            except Exception as again:  # the old keys did apply before; log, report the first error
                log.warning("%s: restoring the old deviceConfig failed: %s", entry.name, again)
        raise ConfigError(f"{entry.name}: Error during object update. {type(exc).__name__}: {exc}") from exc
    if "limits" in new_keys:
        limits = device_limits(entry.obj)
        if limits is not None:
            await server.connector.set_and_publish(
                MessageEndpoints.device_limits(entry.name),
                DeviceMessage(signals={"low": {"value": limits[0]}, "high": {"value": limits[1]}}),
            )


__all__ = ["apply_in_place", "in_place", "merged_device_config"]
