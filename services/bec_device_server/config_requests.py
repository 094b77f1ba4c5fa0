"""Runtime device-configuration changes (``user/devices/config_request``).

Actions ``add``, ``update``, ``remove``, ``set``, ``reload``, ``reset``. The new
devices are validated and built *before* anything live changes; if one fails
to build, the ones built for the change are destroyed and the old set stays
(the whole change is rolled back). Replies: ``SET
info/devices/config_request_response/<RID>`` (EX 60); on success also ``PUBLISH
info/devices/config_update`` and ``LPUSH user/services/response/<RID>`` (EX 100),
and the config and infos are published again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import ConfigError, DecodeError
from bec_core.messages import DeviceConfigMessage, RequestResponseMessage, ServiceResponseMessage
from bec_core.redis_connector import MessageObject
from bec_core.redis_connector.base import recover_rid
from bec_device_server.config import (
    REBUILD_FIELDS,
    UPDATABLE_FIELDS,
    DeviceConfig,
    validate_device,
    validate_devices,
)
from bec_device_server.devices import DeviceEntry, describe_exception

if TYPE_CHECKING:
    from bec_device_server.server import DeviceServer

log = logging.getLogger(__name__)
SOURCE = "config request"


class ConfigRequests:
    """Applies configuration requests one at a time."""

    def __init__(self, server: DeviceServer) -> None:
        self.server = server
        self._lock = asyncio.Lock()

    async def on_request(self, msg: MessageObject) -> None:
        """Callback of ``user/devices/config_request``."""
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for request in values:
            if isinstance(request, DeviceConfigMessage):
                async with self._lock:
                    await self.handle(request)
                continue
            rid = getattr(request, "metadata", {}).get("RID")
            text = f"{msg.topic}: expected a DeviceConfigMessage, got {type(request).__name__}"
            log.warning("config request ignored: %s", text)
            if isinstance(rid, str) and rid:
                await self.refuse(rid, text)

    def on_undecodable(self, channel: str, raw: bytes, exc: DecodeError) -> None:
        """Bytes on the request channel that do not decode: answer their RID if it can be found."""
        rid = recover_rid(raw)
        if rid is not None:
            text = str(exc)
            text = text if len(text) <= 2000 else text[:1980] + "..."
            self.server.spawn(self.refuse(rid, f"undecodable config request: {text}"), f"refuse:{rid}")

    async def refuse(self, rid: str, text: str) -> None:
        """Answer a request that cannot be applied (accepted=False)."""
        await self.server.connector.set(
            MessageEndpoints.device_config_request_response(rid),
            RequestResponseMessage(accepted=False, message=text, metadata={"RID": rid}),
            expire=60,
        )

    async def handle(self, request: DeviceConfigMessage) -> None:
        """Apply one request and answer it."""
        rid = request.metadata.get("RID")
        action = request.action
        try:
            message = await self.apply(action, request.config or {})
            accepted = True
        except ConfigError as exc:
            accepted, message = False, str(exc)
        except Exception as exc:
            log.exception("config request %s (%s) failed", rid, action)
            accepted, message = False, describe_exception(exc)[1]
        log.info("config request %s %s: %s %s", rid, action, "accepted" if accepted else "rejected", message)
        if not isinstance(rid, str) or not rid:
            return
        conn = self.server.connector
        pipe = conn.pipeline()
        await conn.set(
            MessageEndpoints.device_config_request_response(rid),
            RequestResponseMessage(accepted=accepted, message=message, metadata={"RID": rid}),
            expire=60,
            pipe=pipe,
        )
        if accepted:
            await conn.send(
                MessageEndpoints.device_config_update(),
                DeviceConfigMessage(action=action, config=request.config, metadata={"RID": rid}),
                pipe=pipe,
            )
            await conn.lpush(
                MessageEndpoints.service_response(rid),
                ServiceResponseMessage(
                    response={"accepted": True, "service": "DeviceServer"}, metadata={"RID": rid}
                ),
                expire=100,
                pipe=pipe,
            )
        await pipe.execute()

    async def apply(self, action: str | None, config: dict[str, Any]) -> str:
        """Apply a change; returns a message. Raises ConfigError (nothing changed) if refused."""
        current = {n: e.config for n, e in self.server.devices.entries.items()}
        if action == "add":
            new = validate_devices(config, SOURCE)
            existing = sorted(set(new) & set(current))
            if existing:
                raise ConfigError(f"{SOURCE}: devices already exist: {', '.join(existing)}")
            await self.replace(new, remove=[])
        elif action == "update":
            await self.update(config, current)
        elif action == "remove":
            unknown = sorted(set(config) - set(current))
            if unknown:
                raise ConfigError(f"{SOURCE}: cannot remove unknown devices: {', '.join(unknown)}")
            await self.replace({}, remove=list(config))
        elif action == "set":
            await self.replace(validate_devices(config, SOURCE), remove=list(current))
        elif action == "reload":
            await self.replace(dict(current), remove=list(current))
        elif action == "reset":
            await self.replace({}, remove=list(current))
        else:
            raise ConfigError(f"{SOURCE}: action {action!r} is not supported by the device server")
        return ""

    async def update(self, config: dict[str, Any], current: dict[str, DeviceConfig]) -> None:
        """Patch updatable fields; devices whose deviceConfig/enabled changed are rebuilt."""
        rebuild: dict[str, DeviceConfig] = {}
        patch: dict[str, DeviceConfig] = {}
        for name, fields in config.items():
            if name not in current:
                raise ConfigError(f"{SOURCE}: device {name!r}: cannot update an unknown device")
            if not isinstance(fields, dict):
                raise ConfigError(f"{SOURCE}: device {name!r}: expected a mapping of fields")
            refused = sorted(set(fields) - UPDATABLE_FIELDS)
            if refused:
                raise ConfigError(f"{SOURCE}: device {name!r}: fields not updatable: {', '.join(refused)}")
            merged = {**current[name].model_dump(), **fields}
            cfg = validate_device(name, {k: v for k, v in merged.items() if k != "name"}, SOURCE)
            if set(fields) & REBUILD_FIELDS:
                rebuild[name] = cfg
            else:
                patch[name] = cfg
        if rebuild:
            await self.replace(rebuild, remove=list(rebuild))
        for name, cfg in patch.items():
            self.server.devices.entries[name].config = cfg
        if patch and not rebuild:
            await self.server.publish_devices({})

    async def replace(self, new: dict[str, DeviceConfig], remove: list[str]) -> None:
        """Build ``new``; if all build, retire ``remove`` and install ``new`` (else roll back)."""
        server = self.server
        built, failures = await server.devices.build(new.values(), server.settings.timeouts.device_action)
        if failures:
            await server.devices.destroy([entry for entry, _ in built.values()])
            problems = "; ".join(f"{n}: {describe_exception(e)[1]}" for n, e in failures.items())
            for name, exc in failures.items():
                await server.report_build_failure(name, exc)
            raise ConfigError(f"{SOURCE}: rolled back: devices failed to build: {problems}")
        old: list[DeviceEntry] = [server.devices.entries[n] for n in remove if n in server.devices.entries]
        async with server.devices.locked(old):
            for entry in old:
                server.throttle.detach(entry)
                del server.devices.entries[entry.name]
            server.devices.install(entry for entry, _ in built.values())
        await server.devices.destroy(old)
        gone = [e.name for e in old if e.name not in built]
        await server.publish_devices(built, removed=gone)


__all__ = ["ConfigRequests"]
