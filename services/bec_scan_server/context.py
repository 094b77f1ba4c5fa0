"""The device API a scan procedure runs against (:class:`ScanContext`), and its :class:`Control`.

Each point is ONE ``point`` instruction (set + settle + trigger + min_wait +
read, all devices concurrently, docs/decisions/0001); its reply carries the
readings, which go straight to the :class:`~bec_scan_server.publisher.DataPublisher`.
A step scan sends the next point while the current one runs
(:meth:`ScanContext.point_ahead`): the device server starts it only once the one
before it has taken its readings, and not at all if that one failed. Its short
points go several per instruction (:meth:`ScanContext.batch_size`), each still
published as its own segment by the device server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceMessage, ProgressMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_scan_server.devices import root_of
from bec_scan_server.instructions import InstructionClient, Pending
from bec_scan_server.publisher import DataPublisher
from bec_scan_server.queue import QueueItem

log = logging.getLogger(__name__)

#: points in flight at most with :meth:`ScanContext.point_ahead` (the running one and the next)
AHEAD = 2


class Control:
    """How the queue steers a running item: pause/resume, and stop with an exit status."""

    def __init__(self) -> None:
        self._resume = asyncio.Event()
        self._resume.set()
        self.exit: tuple[str, str] | None = None
        self.note: str | None = None
        self.task: asyncio.Task[Any] | None = None

    @property
    def paused(self) -> bool:
        """True while a pause is requested."""
        return not self._resume.is_set()

    def pause(self) -> None:
        """Hold the item at its next checkpoint (between points)."""
        self._resume.clear()

    def resume(self) -> None:
        """Let a paused item go on."""
        self._resume.set()

    def stop(self, status: str, reason: str, note: str | None = None) -> None:
        """End the item with ``status`` ("aborted", "halted", "user_completed"); the first request wins.

        Only the first request cancels the item: later ones must not interrupt its clean-up (stopping
        the devices, unstaging, a relative scan's return to the start), which has its own deadlines.
        """
        if self.exit is not None:
            return
        self.exit = (status, reason)
        self.note = note
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def checkpoint(
        self, on_pause: Callable[[], Awaitable[None]], on_resume: Callable[[], Awaitable[None]]
    ) -> None:
        """Return at once unless paused; when paused, report it and wait (the user decides how long)."""
        if self._resume.is_set():
            return
        await on_pause()
        await self._resume.wait()
        await on_resume()


class ScanContext:
    """Implements :class:`~bec_scan_server.scans.base.ScanAPI` for one queue item."""

    def __init__(
        self,
        item: QueueItem,
        control: Control,
        connector: AsyncRedisConnector,
        instructions: InstructionClient,
        publisher: DataPublisher,
        settings: ServiceSettings,
        on_pause: Callable[[], Awaitable[None]],
        on_resume: Callable[[], Awaitable[None]],
        on_report: Callable[[], Awaitable[None]],
    ) -> None:
        self.item = item
        self.control = control
        self.connector = connector
        self.instructions = instructions
        self.publisher = publisher
        self.settings = settings
        self._on_pause, self._on_resume, self._on_report = on_pause, on_resume, on_report
        self.rid = item.rid
        self.scan_id = item.scan_id
        self.positions: dict[str, float] = {}
        self.monitored: list[str] = list(item.readout_priority.get("monitored", []))
        self.triggered: list[str] = []
        self.point_id = 0
        self.max_points = item.scan.num_readouts() if item.is_scan else 0
        self.background: list[asyncio.Task[Any]] = []
        self._ahead: deque[Pending] = deque()  # points sent by point_ahead, oldest first
        self._queued: list[dict[str, float]] = []  # batched points not sent yet (their moves)
        self._point_time: float | None = None  # device time per point, measured as replies come
        self._last_done: float | None = None  # when the last instruction sent ahead was answered
        self._withdrawn: list[int] = []  # point ids of withdrawn points that may publish themselves
        self._readbacks: dict[str, dict[str, Any]] = {}
        self._readback_seen = asyncio.Event()
        self.segment_metadata = {
            "scan_id": item.scan_id,
            "scan_type": item.scan.scan_type,
            "scan_report_devices": item.scan.motors(),
        }
        # per-point constants, built once (the hot path only adds ``point_id``)
        self._scan_id_text = str(item.scan_id)
        self._progress_metadata = {"scan_id": item.scan_id, "RID": item.rid, "status": "open"}
        self._point_metadata = {**self.base_metadata(), "readout_priority": "monitored"}

    # ------------------------------------------------------------------ ScanAPI
    @property
    def offsets(self) -> dict[str, float]:
        """Start positions for a relative scan, empty otherwise."""
        return self.positions if self.item.scan.relative else {}

    def base_metadata(self) -> dict[str, Any]:
        """Metadata every instruction of this item carries."""
        meta: dict[str, Any] = {"RID": self.rid, "queue_id": self.item.queue_id}
        if self.scan_id is not None:
            meta["scan_id"] = self.scan_id
        return meta

    def loop_time(self) -> float:
        """The event loop's clock."""
        return asyncio.get_running_loop().time()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` (scan timing); a stop cancels it."""
        delay = deadline - self.loop_time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def point(
        self, set: dict[str, float] | None = None, from_readback: list[str] | None = None
    ) -> dict[str, Any]:
        """One monitored readout in one round trip; published as point ``point_id``."""
        await self.points_done()  # a point sent ahead is published before this one
        await self.control.checkpoint(self._on_pause, self._on_resume)
        skip = set_of(from_readback)
        pending = await self._send_point([set or {}], skip, None)
        return self._publish_reply(await self.instructions.wait(pending), skip)

    async def point_ahead(self, set: dict[str, float] | None = None, *, batch: bool = False) -> None:
        """Like :meth:`point` without the readings: sent while the point before it is still running.

        At most :data:`AHEAD` instructions are in flight. Each one after the first carries
        ``metadata["after"]`` = the instruction before it: the device server starts its
        action only once that one's action has finished (readings taken), and not at
        all if it failed. Replies are awaited, and points published, in order; an error
        withdraws the points sent after it. :meth:`points_done` waits for the rest.

        ``batch=True`` (a step scan whose loop does nothing else between its points): the point
        may wait for the next ones and go out with them in one instruction, as many as
        :meth:`batch_size` allows; :meth:`points_done` (or :meth:`point`) sends what is left.
        """
        if not batch:
            await self._send_ahead([set or {}])
            return
        self._queued.append(set or {})
        if len(self._queued) >= self.batch_size():
            await self._send_queued()

    def batch_size(self) -> int:
        """How many short points go in one instruction: at most ``points_per_instruction`` and
        ``batch_budget_s`` of expected device time (the settling and exposure of a point, or the
        time the points of the last instruction took, whichever is longer)."""
        cfg = self.settings.scan_server
        if cfg.points_per_instruction <= 1 or self._point_time is None:
            return 1  # one per instruction, or not measured yet: the first points go one by one
        scan = self.item.scan
        fixed = (
            scan.settling_time + scan.exp_time * scan.frames_per_trigger + scan.settling_time_after_trigger
        )
        per_point = max(fixed, self._point_time)
        if per_point <= 0:
            return cfg.points_per_instruction
        return max(1, min(cfg.points_per_instruction, int(cfg.batch_budget_s / per_point)))

    async def _send_queued(self) -> None:
        queued, self._queued = self._queued, []
        await self._send_ahead(queued)

    async def _send_ahead(self, moves: list[dict[str, float]]) -> None:
        try:
            while len(self._ahead) >= AHEAD:
                await self._complete_oldest()
            if self.control.paused:
                await self.points_done()  # pause between points with nothing in flight
            await self.control.checkpoint(self._on_pause, self._on_resume)
            before = self._ahead[-1].instr_id if self._ahead else None
            self._ahead.append(await self._send_point(moves, set_of(None), before, segment=True))
        except BaseException:
            self._withdraw_ahead()
            raise

    async def points_done(self) -> None:
        """Send the points still queued, then wait for (and publish) every point sent ahead."""
        try:
            if self._queued:
                await self._send_queued()
            while self._ahead:
                await self._complete_oldest()
        except BaseException:
            self._withdraw_ahead()
            raise

    async def _complete_oldest(self) -> None:
        pending = self._ahead[0]
        reply = await self.instructions.wait(pending)
        self._ahead.popleft()
        count = pending.extra.get("count", 1)
        now = self.loop_time()
        if self._last_done is not None:  # what one of these points took
            self._point_time = (now - max(self._last_done, pending.sent_at)) / count
        self._last_done = now
        if "segment" in pending.extra and reply.result is None:
            self._count_point(count)  # the device server published the segments with the readings
        else:
            self._publish_reply(reply, set())

    def _withdraw_ahead(self) -> None:
        self._queued = []  # never sent: nothing to withdraw
        while self._ahead:
            pending = self._ahead.popleft()
            self.instructions.forget(pending)
            if "segment" in pending.extra:
                first = pending.extra["segment"]
                self._withdrawn.extend(range(first, first + pending.extra.get("count", 1)))

    async def settle_withdrawn(self) -> None:
        """Count the withdrawn points whose segments the device server had published already, and
        make sure it publishes no other, before the scan's end says how many points it has."""
        if not self._withdrawn:
            return
        point_ids = sorted(self._withdrawn)
        published = await self.publisher.withdraw(self._scan_id_text, point_ids)
        self._withdrawn = []
        for point_id, done in zip(point_ids, published, strict=True):
            if done and point_id == self.point_id:  # points run (and publish) in order
                self._count_point()

    async def _send_point(
        self, moves: list[dict[str, float]], skip: set[str], after: str | None, segment: bool = False
    ) -> Pending:
        """One instruction for the points ``moves`` (one ``set`` per point; several only with
        ``segment``: each point's segment is published by the device server)."""
        scan = self.item.scan
        read = [d for d in self.monitored if d not in skip] if skip else self.monitored
        moved = {name for point in moves for name in point}
        devices = sorted({*moved, *self.triggered, *read})
        min_wait = scan.exp_time * scan.frames_per_trigger
        settling = scan.settling_time if moved else 0.0
        parameter: dict[str, Any] = {
            "settling_time": settling,
            "trigger": self.triggered,
            "min_wait": min_wait,
            "settling_time_after_trigger": scan.settling_time_after_trigger,
            "read": read,
        }
        t = self.settings.timeouts
        timeout = (  # each action's deadline: one point's
            (t.device_action if moved else 0.0)
            + settling
            + (t.device_action if self.triggered else 0.0)
            + min_wait
            + scan.settling_time_after_trigger
            + t.device_read
        )
        point_id = self.point_id + sum(p.extra.get("count", 1) for p in self._ahead)
        meta = {**self._point_metadata, "point_id": point_id}
        if after is not None:
            meta["after"] = after
        if len(moves) > 1:  # several points: each with its own segment, published as it is read
            parameter["points"] = [
                {
                    "set": point,
                    "segment": self.publisher.segment_spec(
                        self._scan_id_text, point_id + n, self.segment_metadata
                    ),
                }
                for n, point in enumerate(moves)
            ]
        else:
            parameter["set"] = moves[0]  # the caller's fresh dict: encoded before this returns
            if segment:  # published by the device server with the readings: not sent back
                parameter["segment"] = self.publisher.segment_spec(
                    self._scan_id_text, point_id, self.segment_metadata
                )
        # the previous point's publications go out in the same write, ahead of this instruction;
        # an instruction sent ahead also waits out the one before it, and one of several points
        # the points before its last
        before = self._ahead[-1].extra.get("wait", 0.0) if after is not None and self._ahead else 0.0
        queued_points = (len(moves) - 1) * timeout
        pending = await self.instructions.send(
            devices,
            "point",
            parameter,
            meta,
            timeout=timeout,
            publisher=self.publisher,
            extra_wait=before + queued_points,
        )
        pending.extra["wait"] = timeout + queued_points + t.instruction_reply  # for one behind it
        if segment:
            pending.extra["segment"] = point_id
            pending.extra["count"] = len(moves)
        return pending

    def _publish_reply(self, reply: Any, skip: set[str]) -> dict[str, Any]:
        data = reply.result if isinstance(reply.result, dict) else {}
        if skip:
            data = dict(data)
            for device in skip:
                if device in self._readbacks:
                    data[device] = self._readbacks[device]
        self.publish_point(data)
        return data

    def publish_point(self, data: dict[str, Any]) -> None:
        """Hand a point's readings to the publisher and count it."""
        point_id = self.point_id
        self.point_id += 1
        self.publisher.point(self._scan_id_text, point_id, data, self.segment_metadata, self._progress())

    def _count_point(self, count: int = 1) -> None:
        """Count points whose segments the device server published; the progress goes out."""
        self.point_id += count
        self.publisher.progress(self._progress())

    def _progress(self) -> ProgressMessage:
        return ProgressMessage(
            value=self.point_id,
            max_value=max(self.max_points, self.point_id),
            done=False,
            metadata=self._progress_metadata,
        )

    async def read(self, devices: list[str]) -> dict[str, Any]:
        """Read devices (``{device: signals}``), published as device_read by the device server."""
        if not devices:
            return {}
        meta = {**self.base_metadata(), "readout_priority": "baseline"}
        result = dict(await self.instructions.call(devices, "read", {"return_result": True}, meta) or {})
        # the device server reads a sub-device (hexapod.x) as its whole device (hexapod)
        for name in devices:
            if name not in result and root_of(name) in result:
                result[name] = result[root_of(name)]
        return result

    async def set(self, values: dict[str, float], wait: bool = True, response: bool = False) -> Any:
        """One ``set`` for all devices; ``wait=False`` returns a task resolving on arrival."""
        meta = self.base_metadata()
        if response:
            meta["response"] = True
        pending = await self.instructions.send(list(values), "set", {"values": dict(values)}, meta)
        if wait:
            return (await self.instructions.wait(pending)).result
        task = asyncio.get_running_loop().create_task(
            self.instructions.wait(pending), name=f"set:{','.join(values)}"
        )
        self.background.append(task)
        return task

    async def rpc(self, device: str, func: str, rpc_id: str, args: list, kwargs: dict) -> Any:
        """A device method call; the device server writes ``info/devices/rpc/<rpc_id>``."""
        parameter = {"device": device, "func": func, "rpc_id": rpc_id, "args": args, "kwargs": kwargs}
        root = device.split(".")[0]
        return await self.instructions.call(
            root, "rpc", parameter, {**self.base_metadata(), "response": True}
        )

    async def report(self, instructions: list[dict[str, Any]]) -> None:
        """Replace the item's report instructions and publish the queue status."""
        self.item.report_instructions = instructions
        await self._on_report()

    def readback(self, device: str) -> dict[str, Any] | None:
        """The newest readback of a followed device."""
        return self._readbacks.get(device)

    async def wait_readback(self, timeout: float) -> bool:
        """Wait at most ``timeout`` s for a readback update of a followed device (consumes it)."""
        if not self._readback_seen.is_set():
            try:
                await asyncio.wait_for(self._readback_seen.wait(), timeout)
            except TimeoutError:
                return False
        self._readback_seen.clear()
        return True

    async def device_value(self, device: str, attribute: str) -> Any:
        """A device attribute or getter result, read through the device server (an ``rpc``)."""
        return await self.rpc(device, attribute, f"scan-{uuid.uuid4()}", [], {})

    # ------------------------------------------------------------------ helpers
    @contextlib.asynccontextmanager
    async def following(self, devices: list[str]) -> Any:
        """Keep :meth:`readback` current for ``devices`` while inside the block."""
        if not devices:
            yield
            return
        # readbacks are published per device: a sub-device (hexapod.x) follows its device's
        subs = [self.connector.subscribe(MessageEndpoints.device_readback(root_of(d))) for d in devices]
        async with contextlib.AsyncExitStack() as stack:
            for sub in subs:
                await stack.enter_async_context(sub)
            for device, msg in zip(
                devices,
                await self.connector.mget([MessageEndpoints.device_readback(root_of(d)) for d in devices]),
                strict=True,
            ):
                if isinstance(msg, DeviceMessage):
                    self._readbacks[device] = msg.signals
            tasks = [
                asyncio.create_task(self._follow(d, s), name=f"readback:{d}")
                for d, s in zip(devices, subs, strict=True)
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, device: str, sub: Any) -> None:
        async for msg in sub:
            if isinstance(msg.value, DeviceMessage):
                self._readbacks[device] = msg.value.signals
                self._readback_seen.set()


def set_of(values: list[str] | None) -> set[str]:
    """A set from an optional list."""
    return set(values or [])
