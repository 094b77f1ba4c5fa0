"""Runtime device-configuration changes (``user/devices/config_request``), with stock BEC's outcomes.

Actions ``add``, ``update``, ``remove``, ``set``, ``reload``, ``reset``, ``cancel``
(docs/decisions/0003). A ``reload`` changes nothing here (as stock's: it is answered and
announced, and every service re-reads the config); a ``cancel`` stops the request being
applied, which then ends with an empty config (stock's device server flushes it too).
A ``set``/``reset`` and every change that flushed the config keep the replaced config
in ``info/devices/config_history`` (:mod:`.config_store`).
The new devices are validated and built *before* anything live changes, then:

* a device that was constructed but could not connect is kept *disabled* (its
  config says ``enabled: false``) and the rest of the change is applied; the
  reply is accepted and names it in ``metadata["failed_devices"]`` (stock's
  client raises ``DeviceConfigError`` on that, and the device is there, disabled);
* a device whose class cannot be resolved or whose constructor raises: an
  ``add`` or ``update`` is rolled back (nothing changed, rejected); a ``set`` or
  ``reload`` ends with an *empty* config, rejected with ``updated_config`` (stock
  flushes the session the same way).

Replies: ``SET info/devices/config_request_response/<RID>`` (EX 60); when the
config changed also ``PUBLISH info/devices/config_update`` (a set/reset/reload as
``reload``, as stock's SciHub) and ``LPUSH user/services/response/<RID>`` (EX 100),
and the config and infos are published again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
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
from bec_device_server.config_store import push_history, requester
from bec_device_server.config_update import apply_in_place, in_place, merged_device_config
from bec_device_server.devices import DeviceEntry, describe_exception
from bec_device_server.errors import DeviceConnectionError

if TYPE_CHECKING:
    from bec_device_server.server import DeviceServer

log = logging.getLogger(__name__)
SOURCE = "config request"
#: actions that replace the whole config
WHOLE_CONFIG_ACTIONS = frozenset({"set", "reset", "reload"})


class ConfigRequests:
    """Applies configuration requests one at a time."""

    def __init__(self, server: DeviceServer) -> None:
        self.server = server
        self._lock = asyncio.Lock()
        #: the request being applied, and the RID of a cancel aimed at it
        self._active: tuple[asyncio.Task[Any], DeviceConfigMessage] | None = None
        self._cancelled_by: str | None = None
        self._applying = False  # only a change still being applied is cancelled, not its reply

    async def on_request(self, msg: MessageObject) -> None:
        """Callback of ``user/devices/config_request``.

        Requests are applied one at a time in arrival order, each in a task of its own, so
        that a ``cancel`` is answered at once and can stop the request being applied.
        """
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for request in values:
            if isinstance(request, DeviceConfigMessage):
                if request.action == "cancel":
                    await self.cancel(request)
                else:
                    rid = request.metadata.get("RID")
                    self.server.spawn(self._one_at_a_time(request), f"config-request:{rid}")
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

    async def _one_at_a_time(self, request: DeviceConfigMessage) -> None:
        async with self._lock:
            task = asyncio.current_task()
            assert task is not None
            self._active = (task, request)
            try:
                await self.handle(request)
            finally:
                self._active = None
                self._cancelled_by = None

    async def cancel(self, request: DeviceConfigMessage) -> None:
        """``cancel``, as stock answers it: the request being applied (if any) is stopped and its
        reply says so (the config is flushed, as stock's device server does); the cancel
        itself is answered accepted, also when nothing was running."""
        rid = request.metadata.get("RID")
        active = self._active
        if active is not None and self._applying and self._cancelled_by is None:
            task, running = active
            self._cancelled_by = rid if isinstance(rid, str) else "cancel"
            log.info("cancelling config request %s (%s)", running.metadata.get("RID"), running.action)
            task.cancel()
            await asyncio.wait([task])
        elif active is not None:  # already answering: let it finish
            await asyncio.wait([active[0]])
        elif active is None:
            log.info("cancel %s: no config request is being applied", rid)
        if isinstance(rid, str) and rid:
            await self.server.connector.set(
                MessageEndpoints.device_config_request_response(rid),
                RequestResponseMessage(accepted=True, message="", metadata={"RID": rid}),
                expire=60,
            )

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
        outcome = Outcome()
        before = self.server.devices.configs()
        self._applying = True
        try:
            await self.apply(action, request.config or {}, outcome)
        except asyncio.CancelledError:
            if self._cancelled_by is None:
                raise  # the server is stopping
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self._applying = False
            await self.flush()
            outcome.accepted, outcome.changed = False, True
            outcome.message = "Request was cancelled. The config will be flushed"
        except ConfigError as exc:
            outcome.accepted, outcome.message = False, str(exc)
        except Exception as exc:
            log.exception("config request %s (%s) failed", rid, action)
            outcome.accepted, outcome.message = False, describe_exception(exc)[1]
        finally:
            self._applying = False
        if outcome.changed and (action in ("set", "reset") or not outcome.accepted):
            await push_history(
                self.server.connector,
                before,
                action=action or "",
                source=SOURCE,
                size=self.server.settings.device_server.config_history_size,
                rid=rid if isinstance(rid, str) else None,
                user=requester(request.metadata),
            )
        log.info(
            "config request %s %s: %s %s",
            rid,
            action,
            "accepted" if outcome.accepted else "rejected",
            outcome.message,
        )
        if not isinstance(rid, str) or not rid:
            return
        conn = self.server.connector
        pipe = conn.pipeline()
        metadata: dict[str, Any] = {"RID": rid, **outcome.metadata}
        if outcome.changed:
            metadata["updated_config"] = True
        await conn.set(
            MessageEndpoints.device_config_request_response(rid),
            RequestResponseMessage(accepted=outcome.accepted, message=outcome.message, metadata=metadata),
            expire=60,
            pipe=pipe,
        )
        if outcome.accepted or outcome.changed:
            # as stock's SciHub: a set/reset/reload is announced as "reload" (every service reads the
            # whole config again; stock clients act on that), the others as the request itself
            if action in WHOLE_CONFIG_ACTIONS or not outcome.accepted:
                update = DeviceConfigMessage(action="reload", config={}, metadata={"RID": rid})
            else:
                announced = dict(request.config or {})
                for name in outcome.metadata.get("failed_devices", {}):  # kept, disabled (stock's SciHub)
                    if isinstance(announced.get(name), dict):
                        announced[name] = {**announced[name], "enabled": False}
                update = DeviceConfigMessage(action=action, config=announced, metadata={"RID": rid})
            await conn.send(MessageEndpoints.device_config_update(), update, pipe=pipe)
            await conn.lpush(
                MessageEndpoints.service_response(rid),
                ServiceResponseMessage(
                    response={"accepted": True, "service": "DeviceServer"}, metadata={"RID": rid}
                ),
                expire=100,
                pipe=pipe,
            )
        await pipe.execute()

    async def apply(self, action: str | None, config: dict[str, Any], outcome: Outcome) -> None:
        """Apply a change, recording what happened in ``outcome``; a ConfigError means nothing changed."""
        current = {n: e.config for n, e in self.server.devices.entries.items()}
        if action == "add":
            new = validate_devices(config, SOURCE)
            for name in new:
                if name in current:
                    raise ConfigError(f"Device {name} already exists in the session config.")
            await self.replace(new, [], outcome)
        elif action == "update":
            await self.update(config, current, outcome)
        elif action == "remove":
            unknown = sorted(set(config) - set(current))
            if unknown:
                raise ConfigError(f"{SOURCE}: cannot remove unknown devices: {', '.join(unknown)}")
            await self.replace({}, list(config), outcome)
        elif action == "set":
            await self.replace(validate_devices(config, SOURCE), list(current), outcome, flush=True)
        elif action == "reload":
            pass  # as stock: answered and announced; every service re-reads info/devices/config
        elif action == "reset":
            await self.replace({}, list(current), outcome)
        else:
            raise ConfigError(f"{SOURCE}: action {action!r} is not supported by the device server")

    async def update(
        self, config: dict[str, Any], current: dict[str, DeviceConfig], outcome: Outcome
    ) -> None:
        """Patch updatable fields, as stock.

        A ``deviceConfig`` change of an enabled device is applied to the live object and merged
        into the stored keys (:mod:`.config_update`); an ``enabled``/``connectionTimeout``
        change rebuilds the device.
        """
        rebuild: dict[str, DeviceConfig] = {}
        patch: dict[str, DeviceConfig] = {}
        live: dict[str, tuple[DeviceEntry, dict[str, Any], DeviceConfig]] = {}
        for name, fields in config.items():
            if name not in current:
                raise ConfigError(f"{SOURCE}: device {name!r}: cannot update an unknown device")
            if not isinstance(fields, dict):
                raise ConfigError(f"{SOURCE}: device {name!r}: expected a mapping of fields")
            refused = sorted(set(fields) - UPDATABLE_FIELDS)
            if refused:
                raise ConfigError(f"{SOURCE}: device {name!r}: fields not updatable: {', '.join(refused)}")
            merged = {**current[name].model_dump(), **fields}
            if "deviceConfig" in fields:  # stock merges the new keys into the stored ones
                old_keys = current[name].deviceConfig
                merged["deviceConfig"] = merged_device_config(old_keys, fields["deviceConfig"])
            cfg = validate_device(name, {k: v for k, v in merged.items() if k != "name"}, SOURCE)
            entry = self.server.devices.entries.get(name)
            if entry is not None and in_place(entry, fields):
                live[name] = (entry, dict(fields["deviceConfig"] or {}), cfg)
            elif set(fields) & REBUILD_FIELDS:
                rebuild[name] = cfg
            else:
                patch[name] = cfg
        if rebuild:
            await self.replace(rebuild, list(rebuild), outcome, keep_failed=False)
        for entry, new_keys, cfg in live.values():
            await apply_in_place(self.server, entry, new_keys)
            entry.config = cfg
            patch[entry.name] = cfg
        for name, cfg in patch.items():
            self.server.devices.entries[name].config = cfg
        if patch and not rebuild:
            await self.server.publish_devices({})
        outcome.changed = False  # stock's client: an update is accepted or changed nothing

    async def replace(
        self,
        new: dict[str, DeviceConfig],
        remove: list[str],
        outcome: Outcome,
        *,
        flush: bool = False,
        keep_failed: bool = True,
    ) -> None:
        """Build ``new``, then retire ``remove`` and install ``new``.

        Devices that failed to *connect* are installed disabled (``keep_failed``; else the
        change is refused). Devices that failed to *construct*: with ``flush`` every device
        is removed (rejected, config empty), else nothing changes (a ConfigError).
        """
        server = self.server
        built, failures = await server.devices.build(new.values(), server.settings.timeouts.device_action)
        for name, exc in failures.items():
            await server.report_build_failure(name, exc)
        broken = {n: e for n, e in failures.items() if not isinstance(e, DeviceConnectionError)}
        unreachable = {n: e for n, e in failures.items() if isinstance(e, DeviceConnectionError)}
        if broken or (unreachable and not keep_failed):
            problems = "; ".join(f"{n}: {describe_exception(e)[1]}" for n, e in failures.items())
            await server.devices.destroy([entry for entry, _ in built.values()])
            if not flush:
                raise ConfigError(f"{SOURCE}: rolled back: devices failed to build: {problems}")
            await self._swap({}, remove)
            outcome.accepted, outcome.changed = False, True
            outcome.message = (
                f"{SOURCE}: devices failed to build: {problems}. "
                "Error during loading. The config will be flushed"
            )
            return
        await self._swap(built, remove)
        outcome.changed = True
        if unreachable:
            outcome.metadata["failed_devices"] = {n: describe_exception(e)[0] for n, e in unreachable.items()}

    async def flush(self) -> None:
        """Remove every device (a cancelled request ends with an empty config, as in stock)."""
        await self._swap({}, list(self.server.devices.entries))

    async def _swap(self, built: dict[str, Any], remove: list[str]) -> None:
        """Retire the ``remove`` entries and install the ``built`` ones; publish."""
        server = self.server
        old: list[DeviceEntry] = [server.devices.entries[n] for n in remove if n in server.devices.entries]
        async with server.devices.locked(old):
            for entry in old:
                server.throttle.detach(entry)
                del server.devices.entries[entry.name]
            server.devices.install(entry for entry, _ in built.values())
        await server.devices.destroy(old)
        gone = [e.name for e in old if e.name not in built]
        await server.publish_devices(built, removed=gone)


@dataclass
class Outcome:
    """What a request did: the reply's ``accepted``/``message``/extra metadata, and whether the
    live config changed."""

    accepted: bool = True
    message: str = ""
    changed: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


__all__ = ["ConfigRequests", "Outcome"]
