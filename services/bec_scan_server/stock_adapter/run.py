"""Runs one hosted stock scan: its hooks in a worker thread, the life cycle around them ours.

As stock's direct scan worker: ``prepare_scan, open_scan, stage, pre_scan,
scan_core, post_scan, unstage, close_scan`` in order, each after an
interruption check; on an error or a stop, the class's ``on_exception`` hook (a
relative scan's return). Different from stock: the scan number, the
ScanStatusMessage (open, paused, closed, aborted, halted), the baseline and the
points come from our runner and publisher; a pause or stop from the queue
reaches the thread through the interruption check (called before every
instruction) and the class's ``_shutdown_event``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from bec_core.errors import BECError
from bec_core.messages import ErrorInfo
from bec_scan_server.context import Control, ScanContext
from bec_scan_server.devices import owned_devices
from bec_scan_server.publisher import MAJOR, error_info, publish_alarm, publish_scan_status
from bec_scan_server.stock_adapter.bridge import BridgeConnector, InstructionBridge, PointAssembler
from bec_scan_server.stock_adapter.declare import HostedScan, scan_modifier

if TYPE_CHECKING:
    from bec_scan_server.queue import QueueItem
    from bec_scan_server.runner import Runner

log = logging.getLogger(__name__)

SEQUENCE = (
    "prepare_scan",
    "open_scan",
    "stage",
    "pre_scan",
    "scan_core",
    "post_scan",
    "unstage",
    "close_scan",
)
#: how long a stopped scan's thread gets to notice (its waits poll the shutdown event every 0.5 s)
STOP_GRACE_S = 10.0


class HostedScanStopped(BECError):
    """Raised in a hosted scan's thread when the queue stopped the item."""


def _in_thread(fn: Callable[[], Any], name: str) -> asyncio.Future[Any]:
    """Run ``fn`` in a new thread; a future of the loop resolves with its outcome."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def target() -> None:
        try:
            result = fn()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


class HostedRun:
    """One queue item whose scan is a :class:`~bec_scan_server.stock_adapter.declare.HostedScan`."""

    def __init__(self, runner: Runner, item: QueueItem, control: Control, ctx: ScanContext) -> None:
        self.runner = runner
        self.item = item
        self.control = control
        self.ctx = ctx
        self.scan: HostedScan = item.scan  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        self.points = PointAssembler(ctx)
        self.bridge = InstructionBridge(self.loop, runner.instructions, self.points, self._baseline)
        self.instance: Any = None
        self._opened = False
        self._held_baseline: dict[str, Any] | None = None

    # ------------------------------------------------------------------ from the scan's thread
    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def _check(self) -> None:
        """Stock's interruption check: hold while paused, raise once stopped."""
        if self.control.paused:
            self._call(self.control.checkpoint(self.ctx._on_pause, self.ctx._on_resume))
        if self.control.exit is not None:
            raise HostedScanStopped(f"scan stopped: {self.control.exit[0]}")

    def _report_changed(self) -> None:
        self.item.report_instructions = self.scan.report_instructions()
        self._call(self.runner.on_change())

    def _open(self) -> None:
        self.ctx.max_points = self.scan.num_readouts()
        self.ctx.segment_metadata["scan_report_devices"] = self.scan.motors()
        self._call(self._publish_open())

    async def _publish_open(self) -> None:
        runner = self.runner
        await publish_scan_status(runner.connector, runner.status_msg(self.ctx, "open"), runner.expiry)
        self._opened = True
        if self._held_baseline is not None:
            runner._publish_baseline(self.ctx, self._held_baseline)
            self._held_baseline = None

    def _baseline(self, data: dict[str, Any]) -> None:
        """Publish a baseline read; one read before the scan opened (stock classes read it in
        ``prepare_scan``) waits for the open status, so clients know the scan it belongs to."""
        if self._opened:
            self.runner._publish_baseline(self.ctx, data)
        else:
            self._held_baseline = data

    def _close(self) -> None:
        info = self.instance.scan_info
        info.num_monitored_readouts = self.instance.actions._num_monitored_readouts
        self.instance.actions.check_for_unchecked_statuses()

    def _construct(self) -> Any:
        host = self.scan.host
        host.start()
        groups = self.item.readout_priority
        host.refresh_if_missing([*self.scan.devices(), *(d for names in groups.values() for d in names)])
        from bec_server.scan_server.scans.scan_argument_modifier import apply_scan_argument_defaults

        stock_cls = self.scan.stock_class
        kwargs = apply_scan_argument_defaults(
            stock_cls, self.scan.description["signature"], self.scan.args, dict(self.scan.kwargs)
        )
        metadata = dict(self.item.request.metadata)
        user_metadata = metadata.pop("user_metadata", {})
        metadata.setdefault("RID", self.item.rid)
        metadata["queue_id"] = self.item.queue_id
        request_inputs = {
            "arg_bundle": list(self.scan.args) if stock_cls.arg_bundle_size.get("bundle") else [],
            "inputs": {},
            "kwargs": dict(self.scan.kwargs),
        }
        connector = BridgeConnector(host.connector, self.bridge)
        with host.device_manager._rpc_method(self._no_rpc):
            instance = stock_cls(
                *self.scan.args,
                device_manager=host.device_manager,
                redis_connector=connector,
                scan_modifier=scan_modifier(),
                metadata=metadata,
                user_metadata=user_metadata,
                instruction_handler=self.bridge,
                scan_id=self.item.scan_id,
                request_inputs=request_inputs,
                **kwargs,
            )
        info = instance.scan_info
        info.scan_number, info.dataset_number = self.item.scan_number, self.item.dataset_number
        actions = instance.actions
        actions._interruption_callback = self._check
        actions._update_queue_info_callback = self._report_changed
        actions.open_scan = self._open
        actions.close_scan = self._close
        return instance

    def _no_rpc(self, device: str, func: str, *args: Any, **kwargs: Any) -> Any:
        raise BECError(
            f"{self.scan.scan_name}: its constructor calls {device}.{func}; device calls belong in "
            "prepare_scan or later hooks"
        )

    def _sequence(self) -> None:
        instance = self.instance
        with self.scan.host.device_manager._rpc_method(instance.actions.rpc_call):
            instance.actions._initialize_scan()
            for step in SEQUENCE:
                self._check()
                getattr(instance, step)()
                if step == "stage":
                    instance.actions._broadcast_scan_device_info()

    def _on_exception(self, exc: BaseException) -> None:
        instance = self.instance
        if instance is None or not instance.scan_info.run_on_exception_hook:
            return
        instance._shutdown_event.clear()
        instance.actions._metadata_suffix = ""
        instance.actions._interruption_callback = None  # the clean-up runs after the stop
        with self.scan.host.device_manager._rpc_method(instance.actions.rpc_call):
            instance.on_exception(exc)

    # ------------------------------------------------------------------ the loop side
    async def run(self) -> bool:
        """Run the item to its end; True if it completed."""
        runner, item, ctx, control = self.runner, self.item, self.ctx, self.control
        numbers = await runner.numbers.allocate(bool(item.request.metadata.get("dataset_id_on_hold")))
        item.scan_number, item.dataset_number = numbers.scan_number, numbers.dataset_number
        await runner.on_change()
        forwarder = self.loop.create_task(self.bridge.forward(), name=f"stock-bridge:{item.rid}")
        opened = False
        work: asyncio.Future[Any] | None = None
        try:
            await runner._device_server_up()
            self.instance = await _in_thread(self._construct, f"stock-scan-init:{item.rid}")
            self.scan.instance = self.instance
            work = _in_thread(self._sequence, f"stock-scan:{item.rid}")
            opened = True
            await asyncio.shield(work)
            await self.bridge.drain()
            await runner._finish(ctx, "closed", None)
            return True
        except asyncio.CancelledError:
            if control.exit is None:
                raise
            _uncancel()
            await self._stopped(work)
            return False
        except Exception as exc:
            await self._failed(exc, opened)
            return False
        finally:
            forwarder.cancel()
            await asyncio.gather(forwarder, return_exceptions=True)
            self.scan.host.registry.release_all(item.rid)

    async def _join(self, work: asyncio.Future[Any] | None) -> None:
        if self.instance is not None:
            self.instance._shutdown_event.set()
        if work is not None:
            try:
                await asyncio.wait_for(asyncio.shield(work), STOP_GRACE_S)
            except Exception as exc:  # the thread ends with our stop (or an error on the way out)
                log.info("hosted scan %s ended with %s", self.item.scan_number, type(exc).__name__)

    async def _stopped(self, work: asyncio.Future[Any] | None) -> None:
        status, reason = self.control.exit  # type: ignore[misc]
        await self._join(work)
        await self._cleanup(stop=status != "user_completed")
        if status != "user_completed":
            await self._run_on_exception(HostedScanStopped(status))
        self.item.reason = self.item.reason or ("alarm" if reason == "alarm" else "user")
        await self.runner._finish(self.ctx, status, reason, note=self.control.note)

    async def _failed(self, exc: BaseException, opened: bool) -> None:
        item = self.item
        log.error("hosted scan %s (%s) failed: %s", item.scan_number, self.scan.scan_name, exc)
        item.reason = "alarm"
        info = _error_info(exc)
        try:
            await publish_alarm(
                self.runner.connector, MAJOR, info, {"scan_id": item.scan_id, "RID": item.rid}
            )
        except Exception as alarm_exc:
            log.error("cannot publish the alarm of scan %s: %s", item.scan_number, alarm_exc)
        await self._join(None)
        await self._cleanup(stop=True)
        await self._run_on_exception(exc)
        await self.runner._finish(
            self.ctx, "aborted", "alarm", note=info.compact_error_message, opened=opened
        )

    async def _cleanup(self, stop: bool) -> None:
        owned = owned_devices(self.item.readout_priority)
        staged = sorted(self.scan.host.registry.get_owned_devices(self.item.rid)) or owned
        await self.runner._cleanup(self.ctx, staged, stop=stop and bool(owned), stop_devices=owned)

    async def _run_on_exception(self, exc: BaseException) -> None:
        if self.instance is None or not self.runner.instructions.liveness.alive:
            return
        try:
            await _in_thread(lambda: self._on_exception(exc), f"stock-scan-cleanup:{self.item.rid}")
            await self.bridge.drain()
        except Exception as hook_exc:
            log.error("on_exception of hosted scan %s failed: %s", self.item.scan_number, hook_exc)


def _error_info(exc: BaseException) -> ErrorInfo:
    """Our ErrorInfo for a hosted scan's error (a stock DeviceInstructionError carries stock's)."""
    stock_info = getattr(exc, "error_info", None)
    if stock_info is not None and not isinstance(stock_info, ErrorInfo):
        try:
            return ErrorInfo(**stock_info.model_dump())
        except Exception:
            pass
    return error_info(exc)


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
