"""Runs one queue item: the scan life cycle around the scan's own procedure.

For a scan: numbers → start positions and limits → ``open`` → baseline and
stage → the procedure (points) → complete (monitored and async devices) →
unstage → ``closed``. A stop from the queue
(abort, halt, user_completed, shutdown) cancels the procedure and ends the
scan with that status; a device error, a missed deadline or a lost device
server end it ``aborted`` with reason ``alarm`` and a MAJOR alarm. Requests
that are not scans (mv, umv, device_rpc) just run their procedure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import BECError
from bec_core.file_paths import FilePathError, file_components
from bec_core.messages import (
    DeviceReqStatusMessage,
    DeviceRPCMessage,
    ProgressMessage,
    ScanBaselineMessage,
    ScanStatusMessage,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.retry import RedisUnavailableError
from bec_core.serialization import dumps
from bec_scan_server.context import Control, ScanContext
from bec_scan_server.devices import DeviceRegistry, LimitError, owned_devices, position_of
from bec_scan_server.instructions import DeviceServerLost, InstructionClient, InstructionError
from bec_scan_server.numbers import NumberAllocator
from bec_scan_server.publisher import (
    MAJOR,
    MINOR,
    DataPublisher,
    error_info,
    publish_alarm,
    publish_scan_status,
)
from bec_scan_server.queue import QueueItem
from bec_scan_server.returns import return_to_start
from bec_scan_server.sequence import complete_and_unstage, stage_and_prepare

log = logging.getLogger(__name__)

#: deadline of the clean-up instructions (stop, unstage) after an interruption
CLEANUP_TIMEOUT = 5.0
#: exception types of a device that failed because it was asked to stop (ophyd_devices' sims)
STOPPED_BY_REQUEST = frozenset({"DeviceStopError"})


class Runner:
    """Executes queue items against the device server."""

    def __init__(
        self,
        connector: AsyncRedisConnector,
        instructions: InstructionClient,
        registry: DeviceRegistry,
        numbers: NumberAllocator,
        publisher: DataPublisher,
        settings: ServiceSettings,
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        self.connector = connector
        self.instructions = instructions
        self.registry = registry
        self.numbers = numbers
        self.publisher = publisher
        self.settings = settings
        self.on_change = on_change
        self.expiry = settings.scan_server.segment_expiry_s
        #: the last scan status made to be published (what a Redis that lost it gets back: restate.py)
        self.last_status: ScanStatusMessage | None = None

    async def run(self, item: QueueItem, control: Control) -> bool:
        """Run ``item`` to its end; True if it completed, False if it stopped or failed."""
        ctx = ScanContext(
            item,
            control,
            self.connector,
            self.instructions,
            self.publisher,
            self.settings,
            on_pause=lambda: self._paused(ctx),
            on_resume=lambda: self._resumed(ctx),
            on_report=self.on_change,
        )
        if getattr(item.scan, "hosted", False):  # a stock scan class (docs/decisions/0006)
            from bec_scan_server.stock_adapter.run import HostedRun

            return await HostedRun(self, item, control, ctx).run()
        if item.is_scan:
            return await self._run_scan(item, control, ctx)
        return await self._run_request(item, control, ctx)

    # ------------------------------------------------------------------ requests (mv, umv, rpc)
    async def _run_request(self, item: QueueItem, control: Control, ctx: ScanContext) -> bool:
        scan = item.scan
        try:
            await self._device_server_up()
            if scan.relative or scan.needs_positions:
                ctx.positions = await self._positions(ctx, scan.motors())
            await self.registry.check_limits(scan.targets(ctx.positions))
            await scan.run(ctx)
            for task in ctx.background:
                task.add_done_callback(lambda t, it=item: self._background_done(t, it))
            return True
        except asyncio.CancelledError:
            if control.exit is None:
                raise
            _uncancel()
            motors = item.scan.motors()
            await self._cleanup(ctx, [], stop=bool(motors), stop_devices=motors)
            item.reason = "user"
            return False
        except Exception as exc:
            await self._request_failed(item, exc)
            return False

    def _background_done(self, task: asyncio.Task[Any], item: QueueItem) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        if isinstance(exc, InstructionError) and exc.error_info.exception_type in STOPPED_BY_REQUEST:
            # a move someone stopped (a stock client cancels ``mv`` with a device stop): the
            # device server's failed request status tells its waiters; no alarm, as stock
            log.info("%s (RID %s) stopped: %s", item.scan.scan_name, item.rid, exc)
            return
        asyncio.get_running_loop().create_task(self._request_failed(item, task.exception()))  # type: ignore[arg-type]

    async def _request_failed(self, item: QueueItem, exc: BaseException) -> None:
        log.error("%s (RID %s) failed: %s", item.scan.scan_name, item.rid, exc)
        item.reason = "alarm"
        if item.scan.scan_name == "device_rpc":
            await self._rpc_failed(item, exc)
            return
        await publish_alarm(self.connector, MAJOR, error_info(exc, item.scan.devices()), {"RID": item.rid})
        if isinstance(exc, LimitError):  # refused before any device moved: tell the move's waiters
            await self._moves_refused(item, exc)

    async def _moves_refused(self, item: QueueItem, exc: BaseException) -> None:
        """A failed ``device_req_status`` per motor, as the device server writes for a failed set
        (with ``error_info``, which a stock client raises as the move's alarm)."""
        pipe = self.connector.pipeline()
        for motor in item.scan.motors():
            metadata = {"RID": item.rid, "action": "set", "error_info": error_info(exc, motor)}
            msg = DeviceReqStatusMessage(device=motor, success=False, request_id=item.rid, metadata=metadata)
            await self.connector.xadd(
                MessageEndpoints.device_req_status(item.rid), {"data": msg}, expire=3600, pipe=pipe
            )
        await pipe.execute()

    async def _rpc_failed(self, item: QueueItem, exc: BaseException) -> None:
        """Make sure a client polling ``info/devices/rpc/<rpc_id>`` gets an answer."""
        kw = item.scan.kw
        info = error_info(exc, kw["device"])
        msg = DeviceRPCMessage(
            device=str(kw["device"]),
            return_val=None,
            out={
                "error": info.exception_type,
                "msg": info.compact_error_message,
                "traceback": info.error_message,
            },
            success=False,
            metadata={"RID": item.rid},
        )
        await self.connector.redis.set(
            MessageEndpoints.device_rpc(kw["rpc_id"]).endpoint, dumps(msg), ex=1800, nx=True
        )

    # ------------------------------------------------------------------ scans
    async def _run_scan(self, item: QueueItem, control: Control, ctx: ScanContext) -> bool:
        scan = item.scan
        positioned = scan.relative or scan.needs_positions
        # targets that do not depend on the current positions: their limits are read while the
        # numbers are allocated (one round trip less before the scan opens)
        limits = None if positioned else asyncio.ensure_future(self.registry.check_limits(scan.targets({})))
        try:
            numbers = await self.numbers.allocate(bool(item.request.metadata.get("dataset_id_on_hold")))
        except BaseException:
            await _dropped(limits)
            raise
        item.scan_number, item.dataset_number = numbers.scan_number, numbers.dataset_number
        # the queue status with the scan number goes out while the positions and limits are read
        numbered = asyncio.ensure_future(self.on_change())
        staged: list[str] = []
        opened = False
        try:
            try:
                await self._device_server_up()
                groups = item.readout_priority
                ctx.triggered = self.registry.software_triggered(groups["monitored"] + groups["async"])
                if limits is None:
                    ctx.positions = await self._positions(ctx, scan.motors())
                    await self.registry.check_limits(scan.targets(ctx.positions))
                else:
                    await limits
            finally:
                await _dropped(limits)  # not awaited above if the device server was not up
                await asyncio.wait([numbered])  # published before the scan opens or fails
                if not numbered.cancelled():
                    numbered.exception()  # retrieved here; raised below unless the scan failed already
            numbered.result()
            staged = groups["monitored"] + groups["baseline"] + groups["async"]
            opening = self.status_msg(ctx, "open")
            opened = True
            if staged:  # "open" goes out in the stage instruction's write, just ahead of it
                _, baseline = await asyncio.gather(
                    stage_and_prepare(self.instructions, self.publisher, ctx, staged, opening, self.expiry),
                    ctx.read(groups["baseline"]),
                )
            else:
                await publish_scan_status(self.connector, opening, self.expiry)
                baseline = await ctx.read(groups["baseline"])
            self._publish_baseline(ctx, baseline)
            async with ctx.following(scan.motors() if scan.follow_readback else []):
                await scan.run(ctx)
            completing = groups["monitored"] + groups["async"]
            # as BEC's post_scan: complete_all_devices while a relative scan returns, then unstage
            if completing and staged and not scan.relative:  # nothing returns: unstage right behind
                await complete_and_unstage(
                    self.instructions, ctx, completing, staged, self.settings.timeouts.device_action
                )
            else:
                await asyncio.gather(
                    self.instructions.call(
                        completing,
                        "complete",
                        {},
                        ctx.base_metadata(),
                        timeout=self.settings.timeouts.device_action,
                    )
                    if completing
                    else _none(),
                    self._return(ctx),
                )
                if staged:
                    await self.instructions.call(staged, "unstage", {}, ctx.base_metadata())
            await self._finish(ctx, "closed", None)
            return True
        except asyncio.CancelledError:
            if control.exit is None:
                raise
            _uncancel()
            status, reason = control.exit
            owned = owned_devices(item.readout_priority)
            stop = status != "user_completed" and bool(owned)
            await self._cleanup(ctx, staged, stop=stop, stop_devices=owned)
            await self._return(ctx)
            item.reason = item.reason or ("alarm" if reason == "alarm" else "user")  # keep "restart"
            await self._finish(ctx, status, reason, note=control.note, opened=opened)
            return False
        except Exception as exc:
            log.error("scan %s (%s) failed: %s", item.scan_number, scan.scan_name, exc)
            item.reason = "alarm"
            if redis_failure(exc):  # name the outage, not whatever command noticed it
                exc = RedisUnavailableError(
                    f"Redis unavailable for {self.connector.health.last_outage_s():.0f} s ({exc})"
                )
            info = error_info(exc, getattr(getattr(exc, "error_info", None), "device", None))
            try:
                await publish_alarm(self.connector, MAJOR, info, {"scan_id": item.scan_id, "RID": item.rid})
            except Exception as alarm_exc:
                log.error("cannot publish the alarm of scan %s: %s", item.scan_number, alarm_exc)
            if not isinstance(exc, DeviceServerLost):
                owned = owned_devices(item.readout_priority)
                await self._cleanup(ctx, staged, stop=bool(owned), stop_devices=owned)
                # the scan's error is already its MAJOR alarm: a failed return after it is a MINOR
                # one, so a client (stock's scan_repeat) sees the scan's error, not a second one
                await self._return(ctx, severity=MINOR)
            await self._finish(ctx, "aborted", "alarm", note=info.compact_error_message, opened=opened)
            return False

    async def _return(self, ctx: ScanContext, severity: int = MAJOR) -> None:
        """A relative scan's motors back to their start positions (bounded; an alarm if not)."""
        if not self.instructions.liveness.alive:
            return
        t = self.settings.timeouts
        meta = {"scan_id": ctx.item.scan_id, "RID": ctx.item.rid}
        deadline = t.device_action + t.instruction_reply
        await return_to_start(self.connector, ctx, ctx.item.scan, deadline, meta, severity=severity)

    async def _device_server_up(self) -> None:
        """Wait (at most ``timeouts.instruction_reply``) for a live device server."""
        liveness = self.instructions.liveness
        if liveness.alive:
            return
        try:
            await asyncio.wait_for(liveness.became_alive.wait(), self.settings.timeouts.instruction_reply)
        except TimeoutError:
            raise DeviceServerLost(f"cannot start: {liveness.reason}") from None

    async def _positions(self, ctx: ScanContext, motors: list[str]) -> dict[str, float]:
        readings = await ctx.read(motors)
        out = {}
        for motor in motors:
            value = position_of(motor, readings.get(motor, {}))
            if value is None:
                raise BECError(f"{motor}: cannot tell its current position from its reading")
            out[motor] = value
        return out

    def _publish_baseline(self, ctx: ScanContext, data: dict[str, Any]) -> None:
        """SET+PUBLISH ``scan_baseline`` and SET its public copy: queued, so the first point's
        instruction takes it along in its write."""
        msg = ScanBaselineMessage(scan_id=str(ctx.scan_id), data=data, metadata={"scan_id": ctx.scan_id})
        raw = dumps(msg)
        channel = MessageEndpoints.scan_baseline().endpoint
        public = MessageEndpoints.public_scan_baseline(ctx.scan_id).endpoint
        self.publisher.commands(
            [("SET", channel, raw), ("PUBLISH", channel, raw), ("SET", public, raw, "EX", self.expiry)]
        )

    async def _cleanup(
        self, ctx: ScanContext, staged: list[str], stop: bool, stop_devices: list[str] | None = None
    ) -> None:
        """Stop devices (all, or ``stop_devices``) and unstage, each with a short deadline; never raises."""
        if not self.instructions.liveness.alive:
            return
        meta = {**ctx.base_metadata(), "cleanup": True}
        steps = ([("stop", stop_devices)] if stop else []) + ([("unstage", staged)] if staged else [])
        for action, devices in steps:
            try:
                await self.instructions.call(devices, action, {}, meta, timeout=CLEANUP_TIMEOUT)
            except Exception as exc:
                log.error("clean-up %s failed: %s", action, exc)

    async def _finish(
        self, ctx: ScanContext, status: str, reason: str | None, note: str | None = None, opened: bool = True
    ) -> None:
        """Publish the scan's end; while Redis is away, keep trying (nothing else can run meanwhile)."""
        while True:
            try:
                await self._publish_end(ctx, status, reason, note)
                return
            except Exception as exc:
                if not redis_failure(exc):
                    raise
                log.error("cannot publish the end of scan %s yet: %s", ctx.item.scan_number, exc)
                await self.connector.health.wait_up(self.connector.outage_timeout)

    async def _publish_end(self, ctx: ScanContext, status: str, reason: str | None, note: str | None) -> None:
        await ctx.settle_withdrawn()  # points withdrawn but published by the device server count
        try:
            await self.publisher.flush()
        except TimeoutError:
            log.error("scan data of scan %s not fully published", ctx.item.scan_number)
        msg = self.status_msg(ctx, status, reason, note)
        progress = ProgressMessage(
            value=ctx.point_id,
            max_value=max(ctx.point_id, ctx.max_points) if status == "closed" else ctx.max_points,
            done=True,
            metadata={"scan_id": ctx.scan_id, "RID": ctx.rid, "status": status},
        )
        pipe = self.connector.batch()
        await publish_scan_status(self.connector, msg, self.expiry, pipe=pipe)
        await self.connector.set_and_publish(MessageEndpoints.scan_progress(), progress, pipe=pipe)
        await pipe.execute()

    async def _paused(self, ctx: ScanContext) -> None:
        await publish_scan_status(self.connector, self.status_msg(ctx, "paused"), self.expiry)

    async def _resumed(self, ctx: ScanContext) -> None:
        await publish_scan_status(self.connector, self.status_msg(ctx, "open"), self.expiry)

    def _file_components(self, scan_number: int | None, system_config: dict[str, Any]) -> Any:
        """Stock's ``info["file_components"]``: where the scan's files go (None if it cannot say)."""
        if scan_number is None:
            return None
        try:
            return file_components(
                self.settings.file_writer.base_path,
                scan_number,
                self.numbers.account,
                system_config.get("file_directory"),
                system_config.get("file_suffix"),
            )
        except FilePathError as exc:
            log.error("scan %s: no file path: %s", scan_number, exc)
            return None

    def status_msg(
        self, ctx: ScanContext, status: str, reason: str | None = None, note: str | None = None
    ) -> ScanStatusMessage:
        """The item's ScanStatusMessage for ``status``."""
        item, scan = ctx.item, ctx.item.scan
        positions = scan.positions
        if scan.relative and positions.size:
            positions = positions + np.array([ctx.positions.get(m, 0.0) for m in scan.motors()])
        readouts = ctx.point_id if status not in ("open", "paused") else scan.num_readouts()
        params = scan.scan_parameters()
        request_inputs = {
            "arg_bundle": [x for device, values in scan.bound.bundles for x in (device, *values)],
            "inputs": {a.name: scan.kw.get(a.name) for a in scan.positional},
            "kwargs": {k: v for k, v in scan.kw.items() if k not in {a.name for a in scan.positional}},
        }
        info = {
            "scan_name": scan.scan_name,
            "scan_id": item.scan_id,
            "RID": item.rid,
            "queue_id": item.queue_id,
            "scan_number": item.scan_number,
            "dataset_number": item.dataset_number,
            "scan_type": scan.scan_type,
            "num_points": scan.num_points(),
            "num_monitored_readouts": readouts,
            "positions": positions.tolist(),
            "scan_report_devices": scan.motors(),
            "scan_report_instructions": item.report_instructions,
            "readout_priority": item.readout_priority,
            "scan_parameters": params,
            "request_inputs": request_inputs,
            "user_metadata": item.request.metadata.get("user_metadata", {}),
            "monitor_sync": "bec",
            **params,
        }
        info["file_components"] = self._file_components(item.scan_number, params.get("system_config") or {})
        if note is not None:
            info["exit_note"] = note
        metadata = {**item.request.metadata, "scan_id": item.scan_id, "queue_id": item.queue_id}
        if note is not None:
            metadata["exit_note"] = note
        self.last_status = ScanStatusMessage(
            scan_id=item.scan_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,  # type: ignore[arg-type]
            scan_number=item.scan_number,
            session_id=item.request.metadata.get("session_id"),
            num_points=scan.num_points(),
            num_monitored_readouts=readouts,
            scan_name=scan.scan_name,
            scan_type=scan.scan_type,
            dataset_number=item.dataset_number,
            scan_report_devices=scan.motors(),
            user_metadata=item.request.metadata.get("user_metadata", {}),
            readout_priority=item.readout_priority,  # type: ignore[arg-type]
            scan_parameters=params,
            request_inputs=request_inputs,  # type: ignore[arg-type]
            info=info,
            metadata=metadata,
        )
        return self.last_status


async def _dropped(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` unless it is done, and retrieve its outcome (the caller has given up on it)."""
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def redis_failure(exc: BaseException) -> bool:
    """True for an error that means Redis could not be reached (after the connector's retries)."""
    return isinstance(exc, (RedisUnavailableError, RedisConnectionError, RedisTimeoutError)) or (
        isinstance(exc, OSError) and not isinstance(exc, BECError)
    )


async def _none() -> None:
    return None


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
