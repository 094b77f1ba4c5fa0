"""A hosted stock scan's instruction handler and connector, over our instruction protocol.

Stock's ``ScanActions`` create a status object (registered with the instruction
handler under a fresh ``device_instr_id``) and then ``connector.send`` a
``DeviceInstructionMessage`` to ``internal/devices/instructions``. Here that
send is taken over: the message goes, in the order the scan sent it, through
our :class:`~bec_scan_server.instructions.InstructionClient` (deadlines, device
server liveness, withdrawal), and our reply resolves the stock status object.
Two reads are special, because bec-core has no scan bundler:

* a read of the monitored devices (stock's ``read_monitored_devices``) asks for
  the readings back and hands them to the :class:`PointAssembler`, which publishes
  them, in point order, as the scan's points (segments and progress);
* a baseline read asks for the readings back and publishes the baseline.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ErrorInfo
from bec_scan_server.context import ScanContext
from bec_scan_server.instructions import InstructionClient
from bec_scan_server.publisher import error_info

log = logging.getLogger(__name__)

#: stock actions bec-core's device server has no handler for; answered here as done
LOCAL_ACTIONS = frozenset({"broadcast_scan_device_info"})


class PointAssembler:
    """Publishes monitored readouts as points in ``point_id`` order (the bundler's part)."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self._next = 0
        self._held: dict[int, dict[str, Any]] = {}

    def add(self, point_id: int, readings: dict[str, Any]) -> None:
        """One readout; published once every earlier one is."""
        self._held[point_id] = readings
        while self._next in self._held:
            self.ctx.publish_point(self._held.pop(self._next))
            self._next += 1

    @property
    def waiting(self) -> int:
        """Readouts held back for an earlier one."""
        return len(self._held)


class InstructionBridge:
    """Stock's ``InstructionHandler`` (``register_callback``) plus the forwarding of sends."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        instructions: InstructionClient,
        points: PointAssembler,
        on_baseline: Callable[[dict[str, Any]], None],
    ) -> None:
        self.loop = loop
        self.instructions = instructions
        self.points = points
        self.on_baseline = on_baseline
        self._callbacks: dict[str, list[Callable[[Any], None]]] = defaultdict(list)
        self._answered: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._waits: set[asyncio.Task[None]] = set()
        self.sent = 0

    # ------------------------------------------------------------------ stock's handler API
    def register_callback(self, instruction_id: str, callback: Callable[[Any], None]) -> None:
        """Call ``callback(response)`` with the instruction's replies (at once if it has one)."""
        with self._lock:
            answered = self._answered.get(instruction_id)
            if answered is None:
                self._callbacks[instruction_id].append(callback)
                return
        callback(answered)

    def submit(self, msg: Any) -> None:
        """Queue a stock instruction for sending (called from the scan's thread)."""
        self.loop.call_soon_threadsafe(self._outbox.put_nowait, msg)

    # ------------------------------------------------------------------ the loop side
    async def forward(self) -> None:
        """Send queued instructions in order until cancelled."""
        while True:
            msg = await self._outbox.get()
            try:
                await self._send(msg)
            except Exception as exc:  # Redis away: the scan's wait fails with this instead of hanging
                self._answer(msg, None, exc)

    async def drain(self) -> None:
        """Wait until every queued instruction is sent and answered."""
        while not self._outbox.empty() or self._waits:
            if self._waits:
                await asyncio.gather(*list(self._waits), return_exceptions=True)
            else:
                await asyncio.sleep(0)

    async def _send(self, msg: Any) -> None:
        meta = {k: v for k, v in msg.metadata.items() if k != "device_instr_id"}
        action, parameter = msg.action, dict(msg.parameter or {})
        kind = None
        if action in LOCAL_ACTIONS:
            self._answer(msg, None, None)
            return
        if action == "read":
            if meta.get("readout_priority") == "baseline":
                kind, parameter["return_result"] = "baseline", True
            elif not parameter.get("return_result"):
                kind, parameter["return_result"] = "point", True
                meta["readout_priority"] = "monitored"
        pending = await self.instructions.send(msg.device, action, parameter, meta)
        self.sent += 1
        task = asyncio.get_running_loop().create_task(self._reply(msg, pending, kind), name=f"stock:{action}")
        self._waits.add(task)
        task.add_done_callback(self._waits.discard)

    async def _reply(self, msg: Any, pending: Any, kind: str | None) -> None:
        try:
            reply = await self.instructions.wait(pending)
        except Exception as exc:
            self._answer(msg, None, exc)
            return
        result = reply.result
        if kind == "point":
            self.points.add(int(msg.metadata.get("point_id", self.points._next)), dict(result or {}))
            result = None
        elif kind == "baseline":
            self.on_baseline(dict(result or {}))
            result = None
        self._answer(msg, result, None, getattr(reply, "result_is_status", None))

    def _answer(
        self, msg: Any, result: Any, exc: BaseException | None, is_status: bool | None = None
    ) -> None:
        """Resolve the stock status of ``msg`` with a stock DeviceInstructionResponse."""
        from bec_lib import messages as stock

        instr_id = str(msg.metadata["device_instr_id"])
        info = None
        if exc is not None:
            ours: ErrorInfo = error_info(exc, msg.device)
            info = stock.ErrorInfo(**ours.model_dump())
        response = stock.DeviceInstructionResponse(
            device=msg.device,
            status="error" if exc is not None else "completed",
            error_info=info,
            instruction=msg,
            instruction_id=instr_id,
            result_is_status=is_status,
            result=result,
        )
        with self._lock:
            callbacks = self._callbacks.pop(instr_id, [])
            if not callbacks:  # answered before anyone asked: kept for a late register_callback
                self._answered[instr_id] = response
        for callback in callbacks:
            try:
                callback(response)
            except Exception:  # a stock status callback must not stop the bridge
                log.exception("stock status callback for %s failed", instr_id)


class BridgeConnector:
    """Stock bec_lib's RedisConnector for a hosted scan, with instruction sends taken over."""

    def __init__(self, connector: Any, bridge: InstructionBridge) -> None:
        self._connector = connector
        self._bridge = bridge
        self._instructions = MessageEndpoints.device_instructions().endpoint

    def send(self, topic: Any, msg: Any, *args: Any, **kwargs: Any) -> Any:
        """Instructions go to the bridge; anything else to Redis as stock sends it."""
        if getattr(topic, "endpoint", topic) == self._instructions:
            self._bridge.submit(msg)
            return None
        return self._connector.send(topic, msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connector, name)
