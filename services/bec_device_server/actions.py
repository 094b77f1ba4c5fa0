"""The device actions of docs/decisions/0001, one coroutine per action, dispatched by table.

A handler gets a :class:`Job` (the instruction, its pipeline, its deadline) and
returns the ``result`` of the final reply; it raises an
:class:`~bec_device_server.errors.InstructionError` or
:class:`~bec_device_server.errors.DeviceActionError` for an error reply. The
devices named in one instruction are handled concurrently; each device's lock
keeps its own actions in arrival order.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceReqStatusMessage
from bec_device_server.bridge import call, run_action
from bec_device_server.devices import stoppable
from bec_device_server.error_info import error_info
from bec_device_server.errors import DeviceActionError, InstructionError
from bec_device_server.jobs import Job, param, resolve_target
from bec_device_server.point import run_point
from bec_device_server.publish import queue_staged
from bec_device_server.rpc import run_rpc

if TYPE_CHECKING:
    from bec_device_server.devices import DeviceEntry
    from bec_device_server.server import DeviceServer

Handler = Callable[[Job], Awaitable[Any]]


class Actions:
    """Every action handler, bound to the server that owns the devices."""

    def __init__(self, server: DeviceServer) -> None:
        self.server = server
        self.handlers: dict[str, Handler] = {
            "set": self.set,
            "read": self.read,
            "trigger": self.trigger,
            "stage": self.stage,
            "unstage": self.unstage,
            "pre_scan": self.pre_scan,
            "kickoff": self.kickoff,
            "complete": self.complete,
            "stop": self.stop,
            "rpc": self.rpc,
            "point": self.point,
        }

    # ------------------------------------------------------------------ set
    async def set(self, job: Job) -> None:
        """``obj.set(v)`` on each device; waits on the Status through the bridge."""
        params = job.instr.parameter
        if "values" in params:
            values = params["values"]
            if not isinstance(values, dict):
                raise InstructionError(
                    f"set: parameter 'values' must be a map of device to value, not {values!r}"
                )
            names = job.names() or list(values)
            missing = [n for n in names if n not in values]
            if missing:
                raise InstructionError(f"set: no value given for {', '.join(missing)}", missing)
        elif "value" in params:
            names = job.names()
            if not names:
                raise InstructionError("set: no device named")
            values = dict.fromkeys(names, params["value"])
        else:
            raise InstructionError("set: parameter needs 'value' or 'values'")
        entries = self.server.resolve(names, writable=True)
        async with self.server.devices.locked(entries.values()):
            await job.for_each(
                entries.items(), lambda name, e: self.set_one(job, e, name, values[name], publish=True)
            )

    async def set_one(
        self,
        job: Job,
        entry: DeviceEntry,
        name: str,
        value: Any,
        *,
        publish: bool,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Set one device (or sub-signal ``dev.sig``), write its req_status if asked, re-read it
        (``metadata``: that of the move's publications, by default the job's)."""
        server = self.server
        target = resolve_target(entry, name)
        entry.last_metadata = job.metadata if metadata is None else metadata
        success = False
        failure: BaseException | None = None
        try:
            await run_action(
                server.loop,
                server.executor,
                target.set,
                value,
                device=name,
                action="set",
                timeout=job.timeout,
                inline=entry.inline and target is entry.obj,
            )
            success = True
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if job.metadata.get("response") and job.metadata.get("RID"):
                rid = job.metadata["RID"]
                # as stock: error_info (None on success) is what a stock client raises as its alarm
                info = None if failure is None else error_info(failure, name)
                status_meta = {**job.metadata, "action": "set", "error_info": info}
                msg = DeviceReqStatusMessage(
                    device=name, success=success, request_id=rid, metadata=status_meta
                )
                await server.connector.xadd(
                    MessageEndpoints.device_req_status(rid), {"data": msg}, expire=3600, pipe=job.pipe
                )
            if publish and success:
                signals = await server.read_device(entry, job)
                job.readings.add(entry.name, signals, job.metadata)

    # ------------------------------------------------------------------ read
    async def read(self, job: Job) -> dict[str, Any] | None:
        """Read the devices and SET+PUBLISH ``device_read`` and ``device_readback`` of each."""
        return_result = param(job, "return_result", bool, False)
        entries = self.server.resolve(job.names(all_if_none=True))
        async with self.server.devices.locked(entries.values()):
            readings = await self.server.read_many(job, list(entries.values()))
        for name, signals in readings.items():
            job.readings.add(name, signals, job.metadata)
        return readings if return_result else None

    # ------------------------------------------------------------------ status-returning actions
    async def _each_status(
        self,
        job: Job,
        action: str,
        method: Callable[[DeviceEntry], Callable[[], Any] | None],
        inline: bool = False,
    ) -> None:
        """``method(entry)()`` per device, awaited; on the loop for ``inline`` simulated devices."""
        entries = self.server.resolve(job.names(all_if_none=True))

        async def one(name: str, entry: DeviceEntry) -> None:
            func = method(entry)
            if func is None:
                return
            await run_action(
                self.server.loop,
                self.server.executor,
                func,
                device=name,
                action=action,
                timeout=job.timeout,
                inline=inline and entry.inline,
            )

        async with self.server.devices.locked(entries.values()):
            await job.for_each(entries.items(), one)

    async def trigger(self, job: Job) -> None:
        """``obj.trigger()`` on each device, waiting on the statuses."""
        await self._each_status(job, "trigger", lambda e: e.obj.trigger, inline=True)

    async def pre_scan(self, job: Job) -> None:
        """``obj.pre_scan()`` on devices that have it."""
        await self._each_status(job, "pre_scan", lambda e: getattr(e.obj, "pre_scan", None))

    async def complete(self, job: Job) -> None:
        """``obj.complete()`` on devices that have it (``device=None``: all), then the async data
        they sent is written to Redis before the reply (the scan's end follows the reply and the
        file writer reads the async streams to their end when the scan has ended)."""
        await self._each_status(job, "complete", lambda e: getattr(e.obj, "complete", None))
        if self.server.bec_signals is not None:
            await self.server.bec_signals.flush()

    async def kickoff(self, job: Job) -> None:
        """As stock dispatches it: a ``kickoff`` that takes arguments (ophyd_devices' SynFlyer:
        ``kickoff(metadata, num_pos, positions, exp_time)``) gets ``metadata=`` and the ``configure``
        parameters as keywords; otherwise ``configure(c)`` (if given) then ``kickoff()``, waiting on
        the status."""
        configure = param(job, "configure", dict, {})

        def method(entry: DeviceEntry) -> Callable[[], Any] | None:
            obj = entry.obj
            if not hasattr(obj, "kickoff"):
                raise DeviceActionError(f"{entry.name}: device has no kickoff()", entry.name, "TypeError")

            def run() -> Any:
                if kickoff_takes_arguments(obj.kickoff):
                    return obj.kickoff(metadata=dict(job.metadata), **configure)
                if configure:
                    obj.configure(configure)
                return obj.kickoff()

            return run

        await self._each_status(job, "kickoff", method)

    # ------------------------------------------------------------------ staging
    async def stage(self, job: Job) -> None:
        """Stage each device once (a staged device is left as it is), with the scan's ``scan_info``."""
        entries = self.server.resolve(job.names(all_if_none=True))
        await self.server.scans.ensure_scan_info(job.metadata.get("scan_id"))
        async with self.server.devices.locked(entries.values()):
            await job.for_each(entries.items(), lambda _n, e: self.stage_one(e, job.timeout, job.pipe))

    async def unstage(self, job: Job) -> None:
        """Unstage each staged device."""
        entries = self.server.resolve(job.names(all_if_none=True))
        async with self.server.devices.locked(entries.values()):
            await job.for_each(entries.items(), lambda _n, e: self.unstage_one(e, job.timeout, job.pipe))

    async def stage_one(self, entry: DeviceEntry, timeout: float, pipe: Any) -> bool:
        """Stage ``entry`` unless staged; returns whether it was staged now. Caller holds the lock.

        Objects without ``stage`` (plain signals such as ophyd_devices' SimMonitor,
        ReadOnlySignal, ComputedSignal) have nothing to stage, as in stock BEC.
        """
        if entry.staged or not entry.enabled or not callable(getattr(entry.obj, "stage", None)):
            return False
        await run_action(
            self.server.loop,
            self.server.executor,
            entry.obj.stage,
            device=entry.name,
            action="stage",
            timeout=timeout,
            inline=entry.inline,
        )
        entry.staged = True
        await queue_staged(self.server.connector, pipe, entry.name, True)
        return True

    async def unstage_one(self, entry: DeviceEntry, timeout: float, pipe: Any) -> bool:
        """Unstage ``entry`` if staged. Caller holds the lock."""
        if not entry.staged or entry.obj is None:
            return False
        entry.staged = False
        await run_action(
            self.server.loop,
            self.server.executor,
            entry.obj.unstage,
            device=entry.name,
            action="unstage",
            timeout=timeout,
            inline=entry.inline,
        )
        await queue_staged(self.server.connector, pipe, entry.name, False)
        return True

    # ------------------------------------------------------------------ stop, rpc, point
    async def stop(self, job: Job) -> None:
        """``obj.stop()`` on enabled, writable devices that have one (``device=None``: all); takes no lock."""
        names = job.names(all_if_none=True)
        entries = {n: e for n, e in self.server.resolve(names).items() if stoppable(e)}
        await job.for_each(
            entries.items(),
            lambda name, e: call(
                self.server.loop,
                self.server.executor,
                e.obj.stop,
                device=name,
                action="stop",
                timeout=job.timeout,
            ),
        )

    async def rpc(self, job: Job) -> Any:
        """A remote procedure call (see :mod:`bec_device_server.rpc`); no lock, like a user's call."""
        return await run_rpc(self.server, job)

    async def point(self, job: Job) -> dict[str, Any] | None:
        """One whole step-scan point: set, settle, trigger, wait, read (see :mod:`.point`)."""
        return await run_point(self, job)


def default_timeout(server: DeviceServer, action: str) -> float:
    """The configured deadline of an action."""
    timeouts = server.settings.timeouts
    return timeouts.device_read if action == "read" else timeouts.device_action


__all__ = ["Actions", "default_timeout"]


def kickoff_takes_arguments(kickoff: Callable[..., Any]) -> bool:
    """True if a bound ``kickoff`` declares parameters (stock: ``len(getfullargspec(...).args) > 1``)."""
    try:
        params = inspect.signature(kickoff).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
