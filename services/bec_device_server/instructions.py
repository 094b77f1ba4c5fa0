"""The instruction stream of docs/decisions/0001: consume, dispatch, reply, acknowledge.

Entries of ``internal/devices/instructions`` are read through the consumer
group ``device_server``. Each is handled in its own task; its readings, its
final reply and its ``XACK`` go out as one Lua command (after any other
commands the action queued, in the same round trip), so an entry is
acknowledged exactly when its reply is published. That command usually goes
over a connection of its own (:class:`~bec_device_server.publish.Finisher`). The final replies of the
last 1000 ``device_instr_id``\\ s are kept: a redelivered instruction gets its
reply again and is not executed twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple

import msgpack

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import EncodeError
from bec_core.messages import DeviceInstructionMessage, DeviceInstructionResponse
from bec_core.redis_connector.base import StreamEntry
from bec_core.redis_connector.direct import RawPipeline
from bec_core.redis_connector.streams import ensure_group
from bec_core.serialization import CODEC_KEY, dumps
from bec_device_server.actions import default_timeout
from bec_device_server.error_info import error_info
from bec_device_server.errors import DeviceActionError, InstructionError
from bec_device_server.expiry import InstructionExpired, ScanStates
from bec_device_server.jobs import Job
from bec_device_server.publish import NO_SEGMENT, Finisher, Readings

if TYPE_CHECKING:
    from bec_device_server.server import DeviceServer

log = logging.getLogger(__name__)


class Answer(NamedTuple):
    """What a repeated delivery of an instruction gets again: its reply and, for a ``point`` that
    published its scan segment, that segment's script arguments (the first finish may not have
    reached Redis; the segment's once-only SET makes repeating it safe)."""

    reply: bytes
    segment: tuple[Any, ...]


GROUP = "device_server"
CACHE_SIZE = 1000
_STREAM = MessageEndpoints.device_instructions()
_STREAM_KEY = _STREAM.endpoint
_REPLY_KEY = MessageEndpoints.device_instructions_response().endpoint


class InstructionProcessor:
    """Consumes the instruction stream and answers every entry exactly once."""

    def __init__(self, server: DeviceServer) -> None:
        self.server = server
        self.replies: OrderedDict[str, Answer] = OrderedDict()
        self.inflight: dict[str, asyncio.Future[Answer]] = {}
        self.executed = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.finisher: Finisher | None = None
        self.scan_states = ScanStates(server.connector)
        self.scan_states.on_end = self._scan_ended
        self.expired = 0
        #: instructions being executed: device_instr_id -> (scan_id, task)
        self.running: dict[str, tuple[str | None, asyncio.Task[Any]]] = {}
        self._cancel_reasons: dict[str, str] = {}
        #: whether an instruction's action succeeded, known as soon as its handler returns (before its
        #: reply is out): what an instruction sent ahead with ``metadata["after"]`` waits on
        self.outcomes: OrderedDict[str, asyncio.Future[bool]] = OrderedDict()

    async def prepare(self) -> None:
        """Create the instruction stream's consumer group (from its first entry): instructions sent
        once the server says RUNNING are waiting there for it, and XPENDING answers."""
        await ensure_group(self.server.connector, _STREAM_KEY, GROUP)

    async def run(self, consumer: str | None = None) -> None:
        """Follow the scan status, then read the stream until cancelled, one task per entry."""
        connector = self.server.connector
        await self.scan_states.start()
        async with asyncio.TaskGroup() as group:
            async for entry in connector.consume(_STREAM, GROUP, consumer):
                task = group.create_task(self._handle_safely(entry), name=f"instruction:{entry.id}")
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the instructions in progress to send their replies."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)

    async def _handle_safely(self, entry: StreamEntry) -> None:
        try:
            await self.handle(entry)
        except asyncio.CancelledError:
            raise
        except Exception:  # the loop must survive anything an entry does
            log.exception("instruction entry %s could not be answered", entry.id)

    async def handle(self, entry: StreamEntry) -> None:
        """Answer one stream entry (execute it, or repeat the reply of an earlier delivery)."""
        instr = entry.value
        if entry.error is not None or not isinstance(instr, DeviceInstructionMessage):
            await self._reject_undecodable(entry)
            return
        instr_id = instr.metadata.get("device_instr_id")
        if not isinstance(instr_id, str) or not instr_id:
            await self._finish(
                entry.id,
                self._reply(
                    instr,
                    "",
                    error=InstructionError("instruction metadata has no 'device_instr_id'", instr.device),
                ),
            )
            return
        cached = await self._earlier_answer(instr_id)
        if cached is not None:
            log.info("instruction %s delivered again: repeating its reply", instr_id)
            await self._finish(entry.id, cached.reply, segment=cached.segment)
            return
        fut: asyncio.Future[Answer] = self.server.loop.create_future()
        self.inflight[instr_id] = fut
        outcome = self._outcome(instr_id)
        try:
            fut.set_result(await self._execute(entry.id, instr, instr_id))
        finally:
            if not fut.done():
                fut.cancel()
            if not outcome.done():
                outcome.set_result(False)
            self.inflight.pop(instr_id, None)

    async def _earlier_answer(self, instr_id: str) -> Answer | None:
        """The answer of an earlier delivery of ``instr_id``: remembered, or awaited from the delivery
        still in progress. None if there is none (this delivery executes it).

        An earlier delivery whose reply could not go out (its task failed or was cancelled after
        its answer was remembered, or before) ends its future cancelled: this delivery then takes the
        remembered answer, or executes the instruction itself, but never ends unanswered.
        """
        cached = self.replies.get(instr_id)
        if cached is not None:
            return cached
        earlier = self.inflight.get(instr_id)
        if earlier is None:
            return None
        try:
            return await asyncio.shield(earlier)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not earlier.cancelled() or (task is not None and task.cancelling()):
                raise  # this task itself is being cancelled
            log.info("instruction %s: its earlier delivery ended without a reply", instr_id)
            return self.replies.get(instr_id)

    def _outcome(self, instr_id: str) -> asyncio.Future[bool]:
        outcome = self.outcomes.get(instr_id)
        if outcome is None or outcome.done():  # a redelivery executes again: a fresh outcome
            outcome = self.outcomes[instr_id] = self.server.loop.create_future()
        self.outcomes.move_to_end(instr_id)
        while len(self.outcomes) > CACHE_SIZE:
            self.outcomes.popitem(last=False)
        return outcome

    async def _predecessor_done(self, instr: DeviceInstructionMessage) -> None:
        """For an instruction sent ahead (``metadata["after"]`` = the ``device_instr_id`` before it):
        wait until that one's action has finished; raise if it failed. An unknown predecessor (answered
        by an earlier process, or withdrawn) does not hold it up."""
        after = instr.metadata.get("after")
        if not isinstance(after, str):
            return
        outcome = self.outcomes.get(after)
        if outcome is not None and not await asyncio.shield(outcome):
            raise InstructionExpired(
                f"{instr.action} not executed: the instruction before it ({after}) did not complete",
                instr.device,
            )

    def _scan_ended(self, scan_id: str, status: str) -> None:
        self.cancel_scan(scan_id, f"its scan ended ({status})")

    def cancel_scan(self, scan_id: str, reason: str) -> int:
        """Cancel the running instructions of ``scan_id`` (not its clean-up): their device waits end,
        their locks are released, and each is answered "cancelled". Returns how many."""
        count = 0
        for instr_id, (owner, task) in list(self.running.items()):
            if owner == scan_id and not task.done() and instr_id not in self._cancel_reasons:
                self._cancel_reasons[instr_id] = reason
                task.cancel()
                count += 1
        if count:
            # the scan's stop (a user abort, halt or the scan's end): normal operation, INFO
            log.info("cancelled %d running instruction(s) of scan %s: %s", count, scan_id, reason)
        return count

    async def _execute(self, entry_id: str, instr: DeviceInstructionMessage, instr_id: str) -> bytes:
        server = self.server
        meta = instr.metadata
        scan_id = meta.get("scan_id")
        if meta.get("cleanup") and scan_id:
            # the scan is being wound up: its instructions still waiting on devices give way
            self.cancel_scan(str(scan_id), f"its scan is being stopped ({instr.action})")
        try:
            await self.scan_states.check(instr)
        except InstructionExpired as exc:
            # Not remembered: a copy sent again with a later deadline (after a Redis outage) may run.
            self.expired += 1
            log.warning("instruction %s (%s on %s): %s", instr_id, instr.action, instr.device, exc)
            raw = self._reply(instr, instr_id, error=exc)
            await self._finish(entry_id, raw)
            return raw
        pipe = server.connector.batch()
        running = None
        if instr.metadata.get("report_running"):
            # Not awaited here: the handler must take its device locks before this task yields,
            # or a later instruction for the same device could overtake it.
            running = server.spawn(
                server.connector.raw_send(_REPLY_KEY, self._reply(instr, instr_id, status="running")),
                f"running:{instr_id}",
            )
        handler = server.actions.handlers.get(instr.action)
        result: Any = None
        error: BaseException | None = None
        job: Job | None = None
        try:
            if handler is None:
                raise InstructionError(
                    f"unknown action {instr.action!r}; known: {', '.join(sorted(server.actions.handlers))}",
                    instr.device,
                )
            timeout = instr.metadata.get("timeout")
            if timeout is not None and (
                isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
            ):
                raise InstructionError(f"metadata 'timeout' must be a positive number, not {timeout!r}")
            job = Job(
                instr,
                pipe,
                float(timeout or default_timeout(server, instr.action)),
                server.loop,
                publisher=self._publish_readings,
            )
            task = asyncio.current_task()
            if scan_id and not meta.get("cleanup") and task is not None:
                self.running[instr_id] = (str(scan_id), task)
            try:
                await self._predecessor_done(instr)
                result = await handler(job)
            finally:
                self.running.pop(instr_id, None)
            self.executed += 1
            outcome = self.outcomes.get(instr_id)
            if outcome is not None and not outcome.done():
                outcome.set_result(True)  # the action is done: an instruction after it may start
        except asyncio.CancelledError:
            reason = self._cancel_reasons.pop(instr_id, None)
            if reason is None:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            error = InstructionExpired(f"{instr.action} cancelled: {reason}", instr.device)
        except (InstructionError, DeviceActionError) as exc:
            error = exc
        except Exception as exc:
            log.exception("instruction %s (%s) failed unexpectedly", instr_id, instr.action)
            error = exc
        if error is not None:
            log.info("instruction %s %s on %s: error: %s", instr_id, instr.action, instr.device, error)
        raw = self._reply(instr, instr_id, result=result, error=error)
        answer = Answer(raw, job.readings.segment_args if job is not None else NO_SEGMENT)
        self._remember(instr_id, answer)
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)  # "running" goes out first
        await self._finish(entry_id, raw, pipe, job.readings if job is not None else None)
        return answer

    def _reply(
        self,
        instr: DeviceInstructionMessage,
        instr_id: str,
        *,
        status: str | None = None,
        result: Any = None,
        error: BaseException | None = None,
    ) -> bytes:
        if error is None:
            # Built from an instruction that was validated when it was decoded: nothing to check.
            reply = DeviceInstructionResponse.model_construct(
                metadata=instr.metadata,
                device=instr.device,
                status=status or "completed",
                error_info=None,
                instruction=instr,
                instruction_id=instr_id,
                result_is_status=None,
                result=result,
            )
        else:
            reply = DeviceInstructionResponse(
                device=instr.device,
                status=status or "error",
                error_info=error_info(error, instr.device),
                instruction=instr,
                instruction_id=instr_id,
                result=result,
                metadata=instr.metadata,
            )
        try:
            return dumps(reply)
        except EncodeError as exc:
            return self._reply(instr, instr_id, error=InstructionError(f"result cannot be encoded: {exc}"))

    def _remember(self, instr_id: str, answer: Answer) -> None:
        self.replies[instr_id] = answer
        self.replies.move_to_end(instr_id)
        while len(self.replies) > CACHE_SIZE:
            self.replies.popitem(last=False)

    def _finisher(self) -> Finisher:
        if self.finisher is None:
            self.finisher = Finisher(self.server.connector)
        return self.finisher

    async def _publish_readings(self, args: tuple[Any, ...]) -> None:
        """A job's readings (and segment) taken so far (``Readings.take()``), without reply or
        acknowledgement: one command, on the connection the replies go out on."""
        await self._finisher().run(args)

    async def _finish(
        self,
        entry_id: str,
        raw: bytes,
        pipe: RawPipeline | None = None,
        readings: Readings | None = None,
        segment: tuple[Any, ...] = NO_SEGMENT,
    ) -> None:
        """Publish the readings (or a repeated answer's ``segment``) and the reply and acknowledge the
        entry: one command, one round trip (after ``pipe``'s commands, if it has any)."""
        if readings is None:
            readings = Readings()
            readings.segment_args = segment  # once-only on the server: repeating it is safe
        args = readings.take(reply=(_REPLY_KEY, raw), ack=(_STREAM_KEY, GROUP, entry_id))
        if pipe is not None and len(pipe):
            await self._finisher().run_after(pipe, args)
            return
        await self._finisher().run(args)

    async def _reject_undecodable(self, entry: StreamEntry) -> None:
        """Answer an entry that is not a valid instruction, if an id can be recovered; always ack."""
        reason = (
            str(entry.error)
            if entry.error is not None
            else f"not a DeviceInstructionMessage: {entry.value!r}"
        )
        fields = await self._raw_fields(entry.id)
        instr_id, device, action = _recover(fields)
        log.warning("instruction entry %s rejected: %s", entry.id, reason[:300])
        if not instr_id:
            await self.server.alarm(
                f"undecodable device instruction (stream entry {entry.id}): {reason}", "DecodeError", None
            )
            await self._ack(entry.id)
            return
        placeholder = DeviceInstructionMessage(
            device=device,
            action="wait",
            parameter={},
            metadata={"device_instr_id": instr_id, "rejected_action": action},
        )
        what = f"unknown action {action!r}" if action and "action" in reason else "invalid instruction"
        err = InstructionError(f"{what}: {reason}", device)
        raw = self._reply(placeholder, instr_id, error=err)
        self._remember(instr_id, Answer(raw, NO_SEGMENT))
        await self._finish(entry.id, raw)

    async def _ack(self, entry_id: str) -> None:
        await self.server.connector.xack(_STREAM, GROUP, entry_id)

    async def _raw_fields(self, entry_id: str) -> dict[Any, Any]:
        try:
            found = await self.server.connector.redis.xrange(_STREAM.endpoint, entry_id, entry_id)
        except Exception:
            return {}
        return found[0][1] if found else {}


def _recover(fields: dict[Any, Any]) -> tuple[str | None, str | list[str] | None, str | None]:
    """Best effort: (device_instr_id, device, action) from the raw bytes of a rejected entry."""
    raw = fields.get(b"data") or fields.get("data")
    if not isinstance(raw, bytes):
        return None, None, None
    try:
        top = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        data = top[CODEC_KEY]["data"]
        meta = data.get("metadata") or {}
    except Exception:
        return None, None, None
    instr_id = meta.get("device_instr_id") if isinstance(meta, dict) else None
    device = data.get("device")
    if not (
        device is None
        or isinstance(device, str)
        or (isinstance(device, list) and all(isinstance(d, str) for d in device))
    ):
        device = None
    action = data.get("action")
    return (
        instr_id if isinstance(instr_id, str) else None,
        device,
        action if isinstance(action, str) else None,
    )


__all__ = ["GROUP", "InstructionProcessor", "error_info"]
