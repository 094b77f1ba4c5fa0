"""The device configuration kept in Redis, as stock BEC keeps it.

* ``info/devices/config`` (an ``AvailableResourceMessage`` whose ``resource`` is the
  list of device dicts) is the live configuration: the device server writes it
  after every change, so it always holds the last applied config, runtime
  changes included, and a device server started without ``--config`` builds
  from it (:func:`read_stored`).
* ``info/devices/config_history`` (a Redis list, newest first, at most
  ``device_server.config_history_size`` entries, stock: 50) keeps each config
  that was replaced as a whole: by a ``set``, ``reset``, a ``set`` flushed by a
  device that cannot be built, a cancelled request, or a start with ``--config``.
  Each entry is an ``AvailableResourceMessage`` with the replaced device list in
  ``resource`` and, in ``metadata``, ``removed_at`` (epoch seconds, stock's key),
  ``action``, ``RID``, ``source`` and ``user`` (what the request's metadata names:
  ``user``, or ``client_info.username``; stock's ``ConfigHelper`` sends neither).
  Stock clients read it with
  ``connector.lrange(MessageEndpoints.device_config_history(), 0, -1)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AvailableResourceMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_device_server.config import DeviceConfig, validate_devices_lenient

log = logging.getLogger(__name__)
SOURCE = "info/devices/config"


async def read_stored(
    connector: AsyncRedisConnector,
) -> tuple[dict[str, DeviceConfig], dict[str, str]] | None:
    """The stored config as (valid devices, error text by invalid device); None if none is stored.

    An entry that no longer validates (stored by another program, or an older
    version) is reported and left out, as an invalid entry of a file is.
    """
    msg = await connector.get(MessageEndpoints.device_config())
    if msg is None:
        return None
    resource = getattr(msg, "resource", None)
    if isinstance(resource, Mapping):
        return validate_devices_lenient(resource, SOURCE)
    if not isinstance(resource, list):
        log.error("%s holds %s, not a list of devices: starting empty", SOURCE, type(resource).__name__)
        return {}, {}
    raw: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for i, item in enumerate(resource):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            invalid[f"entry {i}"] = f"{SOURCE}: entry {i}: expected a device mapping with a 'name'"
            continue
        raw[item["name"]] = {k: v for k, v in item.items() if k != "name"}
    devices, problems = validate_devices_lenient(raw, SOURCE)
    return devices, {**invalid, **problems}


def requester(metadata: Mapping[str, Any]) -> str | None:
    """Who sent a request, as far as its metadata says (``user`` or ``client_info.username``)."""
    user = metadata.get("user")
    if isinstance(user, str) and user:
        return user
    info = metadata.get("client_info")
    if isinstance(info, Mapping) and isinstance(info.get("username"), str):
        return str(info["username"])
    return None


async def push_history(
    connector: AsyncRedisConnector,
    replaced: list[dict[str, Any]],
    *,
    action: str,
    source: str,
    size: int,
    rid: str | None = None,
    user: str | None = None,
) -> None:
    """Keep ``replaced`` (the config a whole-config change removes) in the history; nothing if empty."""
    if not replaced:
        return
    entry = AvailableResourceMessage(
        resource=replaced,
        metadata={"removed_at": time.time(), "action": action, "RID": rid, "source": source, "user": user},
    )
    await connector.lpush(MessageEndpoints.device_config_history(), entry, max_size=size)


async def history(connector: AsyncRedisConnector) -> list[AvailableResourceMessage]:
    """The kept configs, newest first."""
    return list(await connector.lrange(MessageEndpoints.device_config_history(), 0, -1))


__all__ = ["history", "push_history", "read_stored", "requester"]
