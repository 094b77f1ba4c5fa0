"""The device server service: owns every ophyd device, serves the instruction stream.

Start-up builds the enabled devices concurrently in the thread pool, publishes
``info/devices/config``, each device's info and first readings (one pipeline),
then follows the instruction stream, scan status, stop requests and config
requests. Shutdown stops moving devices and unstages staged ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AvailableResourceMessage, DeviceInfoMessage
from bec_core.restate import Command, Restater, set_missing
from bec_core.serialization import dumps
from bec_core.service import Service
from bec_device_server import config_start
from bec_device_server.actions import Actions
from bec_device_server.bec_signals import BECSignalPublisher
from bec_device_server.bridge import call
from bec_device_server.config import DeviceConfig
from bec_device_server.config_requests import ConfigRequests
from bec_device_server.config_store import push_history
from bec_device_server.devices import Built, DeviceEntry, DeviceManager, describe_exception
from bec_device_server.errors import InstructionError
from bec_device_server.facade import bec_lib_address
from bec_device_server.info import class_info
from bec_device_server.instructions import InstructionProcessor
from bec_device_server.jobs import Job, action_error, raise_combined
from bec_device_server.publish import (
    Readings,
    queue_alarm,
    queue_device_config,
    queue_initial,
)
from bec_device_server.scans import ScanHooks
from bec_device_server.startup import config_modules, preload, resume_gc
from bec_device_server.throttle import ReadbackThrottle

log = logging.getLogger(__name__)


class DeviceServer(Service):
    """The ``DeviceServer`` service (heartbeat name ``DeviceServer``)."""

    name: ClassVar[str] = "DeviceServer"

    def __init__(
        self,
        settings: ServiceSettings,
        device_configs: dict[str, DeviceConfig] | None = None,
        *,
        invalid_devices: dict[str, str] | None = None,
        consumer: str | None = None,
        restore: bool = False,
        initial: tuple[dict[str, DeviceConfig], dict[str, str]] | None = None,
        source: str = "",
        start_without_devices: bool = False,
    ) -> None:
        """``device_configs``: the devices to start with; with ``restore`` instead the config stored
        in Redis, or ``initial`` (devices, invalid entries) if none is stored (:mod:`.config_start`)."""
        super().__init__(settings)
        self.device_configs = dict(device_configs or {})
        self.invalid_devices = dict(invalid_devices or {})
        self.restore = restore
        self.initial = initial
        self.source = source
        self.start_without_devices = start_without_devices or settings.device_server.start_without_devices
        self.consumer = consumer
        self.executor = ThreadPoolExecutor(settings.device_server.max_workers, thread_name_prefix="ophyd")
        bootstrap, credentials, redis_kwargs = bec_lib_address(settings.redis)
        self.devices = DeviceManager(
            self.executor, settings.device_server.allowed_modules, bootstrap, credentials, redis_kwargs
        )
        self.actions = Actions(self)
        self.instructions = InstructionProcessor(self)
        self.scans = ScanHooks(self)
        self.config_requests = ConfigRequests(self)
        self.ready = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set in setup()
        self.throttle: ReadbackThrottle = None  # type: ignore[assignment]
        self.bec_signals: BECSignalPublisher | None = None  # preview/progress/file/async data
        # the device modules the config names, imported while the service connects (startup.py)
        self._preloaded = preload(config_modules(self.device_configs.values(), self.devices.allowed_modules))

    # ------------------------------------------------------------------ lifecycle
    async def setup(self) -> None:
        """Build and publish the devices, subscribe to scan status, stop and config requests."""
        self.loop = asyncio.get_running_loop()
        self.throttle = ReadbackThrottle(
            self.connector, self.loop, self.settings.device_server.readback_rate_limit_hz, self._read_once
        )
        self.bec_signals = BECSignalPublisher(self.connector.redis, self.loop, self.devices.facade.scan_info)
        self.bec_signals.start()
        start = await config_start.choose(
            self.connector,
            None if self.restore else self.device_configs,
            self.invalid_devices,
            self.initial,
            self.source,
        )
        self.device_configs, self.invalid_devices = start.devices, start.invalid
        await asyncio.wrap_future(self._preloaded)
        built, failures = await self.devices.build(
            self.device_configs.values(), self.settings.timeouts.device_action
        )
        for name, exc in failures.items():
            await self.report_build_failure(name, exc)
        for name, text in self.invalid_devices.items():
            await self.alarm(text, "ConfigError", name)
        try:
            config_start.check_usable(start, failures, self.start_without_devices)
        except Exception:
            await self.devices.destroy([entry for entry, _ in built.values()])
            raise
        self.devices.install(entry for entry, _ in built.values())
        if start.stored and config_start.changed(start.stored, self.devices.configs()):
            await push_history(
                self.connector,
                start.stored,
                action="start",
                source=start.source,
                size=self.settings.device_server.config_history_size,
            )
        await self.publish_devices(built)
        self.restater = Restater(self.connector, self.owned_keys, "device server")
        self.restater.start()
        log.info(
            "%d devices ready, %d failed, %d disabled",
            len(self.devices.enabled()),
            len(failures) + len(self.invalid_devices),
            sum(1 for e in self.devices.entries.values() if not e.config.enabled),
        )
        await self.connector.register(MessageEndpoints.scan_status(), self.scans.on_scan_status)
        await self.connector.register(MessageEndpoints.stop_devices(), self.scans.on_stop_devices)
        await self.connector.register(
            MessageEndpoints.device_config_request(),
            self.config_requests.on_request,
            on_undecodable=self.config_requests.on_undecodable,
        )
        await self.instructions.prepare()  # the group exists before RUNNING is announced

    async def main(self) -> None:
        """Serve the instruction stream until cancelled."""
        resume_gc()  # RUNNING: the start-up's objects are frozen, the GC on again (startup.py)
        self.ready.set()
        await self.instructions.run(self.consumer)

    async def shutdown(self) -> None:
        """Stop moving devices, let running instructions reply, unstage staged devices."""
        moving = [e for e in self.devices.enabled() if getattr(e.obj, "moving", False)]
        if moving:
            log.info("stopping moving devices: %s", ", ".join(e.name for e in moving))
            await self.scans.stop(moving)
        await self.instructions.drain(self.settings.timeouts.shutdown / 2)
        if self.instructions.finisher is not None:
            await self.instructions.finisher.close()
        staged = [e for e in self.devices.enabled() if e.staged]
        if staged:
            log.info("unstaging: %s", ", ".join(e.name for e in staged))
            await self.scans.unstage(staged)

    async def run(self) -> int:
        """Run the service, then release the devices and the thread pool."""
        try:
            return await super().run()
        finally:
            if self.throttle is not None:
                await self.throttle.close()
            if self.bec_signals is not None:
                await self.bec_signals.close()
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            for entry in self.devices.entries.values():
                if self.throttle is not None:
                    self.throttle.detach(entry)
            await self.devices.destroy(list(self.devices.entries.values()))
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.devices.facade.shutdown()

    # ------------------------------------------------------------------ helpers
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A named background task owned by the server (cancelled at exit)."""
        task = self.loop.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def resolve(self, names: Iterable[Any] | None, writable: bool = False) -> dict[str, DeviceEntry]:
        """``{name: entry}`` of usable devices (None: all enabled); an InstructionError names the bad ones."""
        if names is None:
            return {e.name: e for e in self.devices.enabled()}
        names = names if isinstance(names, (list, tuple)) else list(names)
        entries = self.devices.entries
        fast: dict[str, DeviceEntry] = {}
        for name in names:  # the usual case: plain names of usable devices
            entry = entries.get(name) if type(name) is str else None
            if (
                entry is None
                or entry.obj is None
                or entry.error is not None
                or not entry.config.enabled
                or (writable and entry.config.readOnly)
            ):
                break
            fast[name] = entry
        else:
            return fast
        out: dict[str, DeviceEntry] = {}
        problems: list[str] = []
        bad: list[str] = []
        for name in names:
            if not isinstance(name, str) or not name:
                problems.append(f"invalid device name {name!r}")
                bad.append(str(name))
                continue
            root = name.split(".", 1)[0]
            entry = self.devices.get(root)
            if entry is None:
                problems.append(f"unknown device {root!r}")
            elif entry.error is not None:
                problems.append(f"device {root!r} is disabled: it failed to build: {entry.error}")
            elif not entry.enabled:
                problems.append(f"device {root!r} is disabled")
            elif writable and entry.config.readOnly:
                problems.append(f"Setting the device {root} is currently disabled.")  # stock's text
            else:
                out[name] = entry
                continue
            bad.append(root)
        if problems:
            raise InstructionError("; ".join(problems), bad[0] if len(bad) == 1 else bad)
        return out

    async def _read_once(self, entry: DeviceEntry) -> dict[str, Any]:
        entry.reading += 1
        try:
            if entry.cheap:
                signals = dict(entry.obj.read())
            else:
                signals = dict(
                    await call(
                        self.loop,
                        self.executor,
                        entry.obj.read,
                        device=entry.name,
                        action="read",
                        timeout=self.settings.timeouts.device_read,
                    )
                )
        finally:
            entry.reading -= 1
        entry.last_read = signals
        return signals

    async def read_device(
        self, entry: DeviceEntry, job: Job, first_error: BaseException | None = None
    ) -> dict[str, Any]:
        """Read one device applying its ``onFailure`` policy (retry once / buffer / raise)."""
        if first_error is None:
            try:
                return await self._read_once(entry)
            except Exception as exc:
                first_error = exc
        policy = entry.config.onFailure
        error = action_error(entry.name, "read", first_error)
        await self.alarm(f"{error} (onFailure: {policy})", error.exception_type, entry.name, severity=0)
        if policy == "retry":
            try:
                return await self._read_once(entry)
            except Exception as exc:
                raise action_error(entry.name, "read", exc) from exc
        if policy == "buffer" and entry.last_read is not None:
            return entry.last_read
        raise error

    async def read_many(
        self, job: Job, entries: list[DeviceEntry], metadata: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Read devices: cheap ones inline on the loop, the others concurrently in the pool
        (``metadata``: the readings' own, by default the job's)."""
        readings: dict[str, dict[str, Any]] = {}
        slow: list[tuple[DeviceEntry, BaseException | None]] = []
        metadata = job.metadata if metadata is None else metadata
        for entry in entries:
            entry.last_metadata = metadata
            if entry.cheap:
                entry.reading += 1
                try:
                    readings[entry.config.name] = entry.last_read = dict(entry.obj.read())
                    continue
                except Exception as exc:
                    slow.append((entry, exc))
                finally:
                    entry.reading -= 1
            else:
                slow.append((entry, None))
        if not slow:
            return readings  # in the order of ``entries`` already
        results = await asyncio.gather(
            *(self.read_device(e, job, err) for e, err in slow), return_exceptions=True
        )
        raise_combined(
            [(e.name, r) for (e, _), r in zip(slow, results, strict=True) if isinstance(r, BaseException)]
        )
        for (entry, _), result in zip(slow, results, strict=True):
            readings[entry.name] = result  # type: ignore[assignment]
        return {e.name: readings[e.name] for e in entries}

    async def alarm(
        self,
        message: str,
        exception_type: str,
        device: str | list[str] | None,
        *,
        severity: int = 1,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """SET+PUBLISH an AlarmMessage on ``user/alarms`` (errors writing it are logged only)."""
        compact = message.splitlines()[0] if message else exception_type
        try:
            pipe = self.connector.pipeline()
            await queue_alarm(
                self.connector, pipe, message, compact, exception_type, device, severity, metadata
            )
            await pipe.execute()
        except Exception as exc:
            log.warning("cannot publish alarm (%s): %s", exc, compact)

    async def report_build_failure(self, name: str, exc: BaseException) -> None:
        """Alarm and log for a device that could not be built."""
        full, compact = describe_exception(exc)
        log.error("device %s failed to build: %s", name, compact)
        await self.alarm(f"{name}: failed to build: {full}", type(exc).__name__, name)

    async def publish_devices(
        self, built: dict[str, tuple[DeviceEntry, Built | None]], removed: Iterable[str] = ()
    ) -> None:
        """Publish the config, and info plus first readings of the (re)built devices, in one pipeline."""
        pipe = self.connector.pipeline()
        readings = Readings()
        for name in removed:
            for endpoint in (
                MessageEndpoints.device_info(name),
                MessageEndpoints.device_read(name),
                MessageEndpoints.device_readback(name),
                MessageEndpoints.device_read_configuration(name),
                MessageEndpoints.device_limits(name),
            ):
                await self.connector.delete(endpoint, pipe=pipe)
        for entry, result in built.values():
            if result is not None:
                await queue_initial(
                    self.connector,
                    pipe,
                    readings,
                    entry,
                    result.read,
                    result.read_configuration,
                    result.limits,
                )
                self.throttle.attach(entry)
                if self.bec_signals is not None:
                    self.bec_signals.attach(entry)
            else:
                await self.connector.set(
                    MessageEndpoints.device_info(entry.name), self._info_message(entry), pipe=pipe
                )
        await queue_device_config(self.connector, pipe, self.devices.configs())
        readings.flush(pipe)
        await pipe.execute()

    def _info_message(self, entry: DeviceEntry) -> DeviceInfoMessage:
        """``device_info/<name>``: a built device's info, else stock's info of a device not connected."""
        if entry.obj is not None:
            return DeviceInfoMessage(device=entry.name, info=entry.info)
        info = placeholder_info(entry, self.devices.allowed_modules)
        if entry.error is not None:  # the scan server names it when a scan asks for the device
            info["build_error"] = entry.error[:500]
        return DeviceInfoMessage(device=entry.name, info=info)

    def owned_keys(self) -> list[Command]:
        """The device configuration and every device's info, to be written back into a Redis that
        lost them (:mod:`bec_core.restate`): without them a client sees no devices."""
        config = AvailableResourceMessage(resource=self.devices.configs())
        commands = [set_missing(MessageEndpoints.device_config().endpoint, dumps(config))]
        for entry in self.devices.entries.values():
            info = self._info_message(entry)
            commands.append(set_missing(MessageEndpoints.device_info(entry.name).endpoint, dumps(info)))
        return commands


def placeholder_info(entry: DeviceEntry, allowed_modules: Iterable[str] = ()) -> dict[str, Any]:
    """The info of a disabled or failed device: stock's info of a device that is not connected."""
    from bec_device_server.resolve import resolve_device_class

    try:
        cls: type | None = resolve_device_class(entry.config.deviceClass, allowed_modules)
    except Exception:
        cls = None
    return class_info(cls, entry.config.deviceClass.rsplit(".", 1)[-1])


__all__ = ["DeviceServer", "placeholder_info"]
