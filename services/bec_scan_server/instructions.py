"""The scan server's side of the instruction protocol (docs/decisions/0001).

Instructions go to the stream ``internal/devices/instructions`` (XADD MAXLEN ~
10000), each with a fresh ``device_instr_id``; the final reply (``completed``
or ``error``) arrives on ``internal/devices/instructions_response`` and
resolves the instruction's future. Every wait has a deadline
(``timeouts.instruction_reply`` plus the action's own timeout) and ends early
with :class:`DeviceServerLost` when the device server's heartbeat lapses.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from bec_core.config import TimeoutSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import DeviceError, RequestTimeoutError
from bec_core.messages import (
    BECStatus,
    DeviceInstructionMessage,
    DeviceInstructionResponse,
    ErrorInfo,
    StatusMessage,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.base import MessageObject
from bec_core.redis_connector.direct import DirectBatch
from bec_core.redis_connector.retry import RedisUnavailableError
from bec_core.serialization import dumps

if TYPE_CHECKING:
    from bec_scan_server.publisher import DataPublisher

log = logging.getLogger(__name__)

STREAM_MAXLEN = 10_000
DEVICE_SERVER = "DeviceServer"


class InstructionError(DeviceError):
    """A device server answered an instruction with an error."""

    def __init__(self, text: str, error_info: ErrorInfo) -> None:
        super().__init__(text)
        self.error_info = error_info


class DeviceServerLost(DeviceError):
    """The device server's heartbeat lapsed (or it said it stopped) while we waited for it."""


class Liveness:
    """Follows ``user/services/status/DeviceServer``; knows whether the device server is alive."""

    def __init__(self, connector: AsyncRedisConnector, expiry: float) -> None:
        self.connector = connector
        self.expiry = expiry
        self.alive = False
        self.reason = "the device server has not started"
        self._lost: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._check: asyncio.Task[None] | None = None
        self.became_alive = asyncio.Event()

    async def start(self) -> None:
        """Subscribe to the heartbeat, then look at the current key."""
        ep = MessageEndpoints.service_status(DEVICE_SERVER)
        await self.connector.register(ep, self._on_beat)
        try:
            msg = await self.connector.get(ep)
        except Exception:  # an undecodable heartbeat counts as none
            msg = None
        if isinstance(msg, StatusMessage) and not self.alive:
            ttl = await self.connector.redis.pttl(ep.endpoint)
            self._beat(msg, ttl / 1000 if ttl and ttl > 0 else self.expiry)

    def _on_beat(self, msg: MessageObject) -> None:
        if isinstance(msg.value, StatusMessage):
            self._beat(msg.value, self.expiry)

    def _beat(self, msg: StatusMessage, expires_in: float) -> None:
        if msg.status in (BECStatus.RUNNING, BECStatus.BUSY):
            self.alive = True
            self.became_alive.set()
            if self._timer is not None:
                self._timer.cancel()
            self._arm(expires_in)
        elif msg.status == BECStatus.IDLE:  # it said it stops (``bec-server stop``): normal, INFO
            self.mark_lost("the device server stopped (it reported status IDLE)", logging.INFO)
        else:
            self.mark_lost(f"the device server reported status {msg.status.name}")

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, self._heartbeat_overdue)

    def _heartbeat_overdue(self) -> None:
        self._timer = None
        self._check = asyncio.get_running_loop().create_task(self._judge(), name="device-server-liveness")

    async def _judge(self) -> None:
        """A missing heartbeat means a lost device server only if Redis itself answers and did
        so for the whole expiry: during (and just after) a Redis outage nobody's beats get through."""
        health = self.connector.health
        if not await self.connector.probe() or health.recently_down(self.expiry):
            if health.down:
                log.warning(
                    "no device-server heartbeat while Redis is unavailable (%.0f s): waiting",
                    health.unavailable_for(),
                )
            self._arm(min(self.expiry, 1.0))
            return
        self.mark_lost(f"no heartbeat from the device server for {self.expiry:g} s")

    def mark_lost(self, reason: str, level: int = logging.ERROR) -> None:
        """Declare the device server gone; every pending wait fails with :class:`DeviceServerLost`
        (logged at ``level``: ERROR unless it said it was stopping)."""
        was_alive = self.alive
        self.alive = False
        self.reason = reason
        self.became_alive.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._lost = None
        if was_alive:
            log.log(level, "device server lost: %s", reason)

    def lost_future(self) -> asyncio.Future[None]:
        """A future that completes when the device server is lost (at once if it is)."""
        if self._lost is None or self._lost.done():
            self._lost = asyncio.get_running_loop().create_future()
            if not self.alive:
                self._lost.set_result(None)
        return self._lost

    def close(self) -> None:
        """Cancel the expiry timer."""
        if self._timer is not None:
            self._timer.cancel()
        if self._check is not None:
            self._check.cancel()


@dataclass(slots=True)
class Pending:
    """An instruction that was sent and whose final reply is awaited."""

    instruction: DeviceInstructionMessage
    future: asyncio.Future[DeviceInstructionResponse]
    timeout: float
    sent_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: the stream entry id (None when the XADD went out in a caller's pipeline)
    entry_id: str | None = None

    @property
    def instr_id(self) -> str:
        """The instruction's ``device_instr_id``."""
        return str(self.instruction.metadata["device_instr_id"])


class Call(NamedTuple):
    """One instruction of :meth:`InstructionClient.send_in_order`."""

    device: str | list[str] | None
    action: str
    parameter: dict[str, Any]
    metadata: dict[str, Any]
    timeout: float | None = None  #: the action's own deadline (the device server's default if None)


def describe(instr: DeviceInstructionMessage) -> str:
    """``samx: set`` / ``samx, samy: point`` for messages."""
    dev = instr.device
    names = ", ".join(dev) if isinstance(dev, list) else (dev or "all devices")
    if len(names) > 80:
        names = names[:77] + "..."
    return f"{names}: {instr.action}"


class InstructionClient:
    """Sends instructions and awaits their replies (with deadlines)."""

    def __init__(self, connector: AsyncRedisConnector, timeouts: TimeoutSettings, liveness: Liveness) -> None:
        self.connector = connector
        self.timeouts = timeouts
        self.liveness = liveness
        self._pending: dict[str, Pending] = {}
        self._stream = MessageEndpoints.device_instructions()
        self._withdrawals: set[asyncio.Task[None]] = set()
        self._direct = DirectBatch(connector.redis)

    async def start(self) -> None:
        """Subscribe to the replies (before any instruction is sent)."""
        await self.connector.register(MessageEndpoints.device_instructions_response(), self._on_reply)
        self.connector.on_reconnect(self._on_reconnect)

    def _on_reconnect(self) -> None:
        if self._pending:
            task = asyncio.get_running_loop().create_task(self.resend_pending(), name="resend-instructions")
            self._withdrawals.add(task)
            task.add_done_callback(self._withdrawals.discard)

    async def resend_pending(self) -> int:
        """Send every instruction still awaiting its reply again (same ``device_instr_id``).

        After a lost pub/sub connection a reply may have been published while we were
        not subscribed. The device server answers a copy from its reply cache (or, if it
        never got the first one, executes it): nothing runs twice. Each copy gets a fresh
        deadline. Returns how many were sent.
        """
        loop = asyncio.get_running_loop()
        sent = 0
        for pending in list(self._pending.values()):
            if pending.future.done():
                continue
            pending.sent_at = loop.time()
            pending.instruction.metadata["expires_at"] = round(time.time() + pending.timeout, 3)
            try:
                pending.entry_id = await self.connector.xadd(
                    self._stream, {"data": pending.instruction}, max_size=STREAM_MAXLEN
                )
                sent += 1
            except Exception as exc:  # Redis gone again: the next reconnection sends it
                log.warning("could not send %s again: %s", describe(pending.instruction), exc)
                break
        if sent:
            log.info("sent %d pending instruction(s) again after a Redis reconnection", sent)
        return sent

    def _on_reply(self, msg: MessageObject) -> None:
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for reply in values:
            if not isinstance(reply, DeviceInstructionResponse) or reply.status == "running":
                continue
            pending = self._pending.get(reply.instruction_id)
            if pending is None or pending.future.done():
                continue
            if _answers_older_copy(reply, pending):
                continue  # a copy we sent again later, with a later deadline, is still to be answered
            del self._pending[reply.instruction_id]
            if reply.status == "error":
                info = reply.error_info or ErrorInfo(
                    error_message="unknown error",
                    compact_error_message="unknown error",
                    exception_type="DeviceError",
                    device=reply.device,
                )
                text = info.compact_error_message or info.error_message
                pending.future.set_exception(
                    InstructionError(f"{describe(pending.instruction)}: {text}", info)
                )
            else:
                pending.future.set_result(reply)

    def action_timeout(self, action: str) -> float:
        """The device server's own deadline for an action."""
        return self.timeouts.device_read if action == "read" else self.timeouts.device_action

    def make(
        self, device: str | list[str] | None, action: str, parameter: dict[str, Any], metadata: dict[str, Any]
    ) -> DeviceInstructionMessage:
        """An instruction with a fresh ``device_instr_id``."""
        meta = {**metadata, "device_instr_id": str(uuid.uuid4())}
        # validated construction on purpose: measured, model_construct is no faster for these
        # small messages under pydantic 2 (2.0 vs 2.1 us), so the checks stay
        return DeviceInstructionMessage(device=device, action=action, parameter=parameter, metadata=meta)  # type: ignore[arg-type]

    def _register(
        self,
        device: str | list[str] | None,
        action: str,
        parameter: dict[str, Any],
        metadata: dict[str, Any],
        timeout: float | None,
        extra_wait: float,
    ) -> Pending:
        """A new instruction, registered as awaiting its reply (the caller sends it)."""
        instr = self.make(device, action, parameter, metadata)
        action_timeout = timeout if timeout is not None else self.action_timeout(action)
        if timeout is not None:
            instr.metadata["timeout"] = timeout
        loop = asyncio.get_running_loop()
        pending = Pending(
            instr, loop.create_future(), action_timeout + self.timeouts.instruction_reply + extra_wait
        )
        # When we stop waiting (docs/decisions/0004): a device server that finds the entry
        # later (a restarted process claiming it) answers "expired, not executed".
        instr.metadata["expires_at"] = round(time.time() + pending.timeout, 3)
        self._pending[pending.instr_id] = pending
        pending.sent_at = loop.time()
        return pending

    async def send_in_order(
        self, calls: list[Call], *, publisher: DataPublisher | None = None, before: list[Any] | None = None
    ) -> list[Pending]:
        """Several instructions in one write, each to run after the one before it.

        Each after the first carries ``metadata["after"]`` = the one before it (the device
        server starts it only once that one has succeeded, and answers it "not executed"
        if that one failed), and its wait also covers the one before it. ``publisher`` and
        ``before`` as for :meth:`send`. Returns the :class:`Pending` of each, in order.
        """
        pendings: list[Pending] = []
        for call in calls:
            metadata, extra_wait = call.metadata, 0.0
            if pendings:
                metadata = {**metadata, "after": pendings[-1].instr_id}
                extra_wait = pendings[-1].timeout
            pendings.append(
                self._register(call.device, call.action, call.parameter, metadata, call.timeout, extra_wait)
            )
        await self._send_direct(pendings, publisher, before or [])
        return pendings

    async def send(
        self,
        device: str | list[str] | None,
        action: str,
        parameter: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        pipe: Any = None,
        publisher: DataPublisher | None = None,
        extra_wait: float = 0.0,
        before: list[Any] | None = None,
    ) -> Pending:
        """Send one instruction; returns the :class:`Pending` to :meth:`wait` on.

        ``timeout`` is the action's own deadline (the device server's default
        for that action otherwise); the wait adds ``timeouts.instruction_reply``.
        With ``publisher``, the scan data it has queued (the previous point) goes out
        first, in the same write as the instruction (:meth:`DataPublisher.take`).
        ``before``: raw commands written ahead of the instruction in the same write.
        ``extra_wait`` lengthens the wait (and ``expires_at``) but not the action's own
        deadline: an instruction queued behind another one waits that one out too.
        """
        pending = self._register(device, action, parameter or {}, metadata or {}, timeout, extra_wait)
        if pipe is None:
            await self._send_direct([pending], publisher, before or [])
            return pending
        try:
            await self.connector.xadd(
                self._stream, {"data": pending.instruction}, max_size=STREAM_MAXLEN, pipe=pipe
            )
        except BaseException:
            self._pending.pop(pending.instr_id, None)
            raise
        return pending

    async def _send_direct(
        self, pendings: list[Pending], publisher: DataPublisher | None, extra: list[Any]
    ) -> None:
        """The XADDs (after the publisher's queued commands, if any, and ``extra``) in one write on the
        direct connection."""
        taken = publisher.take() if publisher is not None else []
        head = [*taken, *extra]
        xadds = [
            (
                "XADD",
                self._stream.endpoint,
                "MAXLEN",
                "~",
                STREAM_MAXLEN,
                "*",
                "data",
                dumps(pending.instruction),
            )
            for pending in pendings
        ]
        try:
            replies = await self._direct.run([*head, *xadds])
        except BaseException:
            for pending in pendings:
                self._pending.pop(pending.instr_id, None)
            if publisher is not None:
                publisher.release(taken)
            raise
        if publisher is not None:
            publisher.release(None, replies[: len(head)])
        failed: Exception | None = None
        for pending, entry_id in zip(pendings, replies[len(head) :], strict=True):
            if isinstance(entry_id, Exception):
                failed = failed or entry_id
            else:
                pending.entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        if failed is not None:
            for pending in pendings:
                self.forget(pending)  # those that went in are withdrawn: none runs without the others
            raise failed

    async def wait(self, pending: Pending) -> DeviceInstructionResponse:
        """The final reply; raises InstructionError, DeviceServerLost, RedisUnavailableError or
        RequestTimeoutError.

        The deadline is ``pending.timeout`` from the (last) send. When it passes while Redis is
        unavailable, the wait goes on until Redis is back (at most the connector's
        ``outage_timeout``), then gives the reply a fresh deadline: the instruction is sent
        again on reconnection.
        """
        if pending.future.done():
            return pending.future.result()
        loop = asyncio.get_running_loop()
        try:
            while True:
                remaining = pending.sent_at + pending.timeout - loop.time()
                if remaining > 0:
                    lost = self.liveness.lost_future()
                    done, _ = await asyncio.wait(
                        {pending.future, lost}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                    if pending.future in done:
                        return pending.future.result()
                    if lost in done:
                        raise DeviceServerLost(f"{describe(pending.instruction)}: {self.liveness.reason}")
                    continue  # the deadline may have moved (sent again)
                if await self._outage_ridden_out(pending):
                    continue
                raise RequestTimeoutError(
                    f"{describe(pending.instruction)}: no reply from the device server within "
                    f"{pending.timeout:g} s"
                )
        except BaseException:
            self.forget(pending)
            raise

    async def _outage_ridden_out(self, pending: Pending) -> bool:
        """At a missed deadline: False if Redis answers (the device server is to blame); True once
        Redis is back from an outage; RedisUnavailableError if it stays away too long."""
        connector, health = self.connector, self.connector.health
        if not health.down and await connector.probe():
            return False
        if await health.wait_up(max(0.0, connector.outage_timeout - health.unavailable_for())):
            pending.sent_at = asyncio.get_running_loop().time()
            return True
        raise RedisUnavailableError(
            f"{describe(pending.instruction)}: Redis unavailable for {health.unavailable_for():.0f} s"
        )

    def forget(self, pending: Pending) -> None:
        """Stop waiting for an instruction's reply, and withdraw it if nobody has answered it.

        The withdrawal deletes the stream entry (best effort): a device server that
        has not read it yet never sees it; one that holds it pending acknowledges it
        without executing it. The entry's ``expires_at`` covers a failed withdrawal.
        """
        self._pending.pop(pending.instr_id, None)
        if not pending.future.done():
            pending.future.cancel()
            if pending.entry_id is not None:
                task = asyncio.get_running_loop().create_task(
                    self._withdraw(pending), name=f"withdraw:{pending.instr_id}"
                )
                self._withdrawals.add(task)
                task.add_done_callback(self._withdrawals.discard)

    async def _withdraw(self, pending: Pending) -> None:
        try:
            await self.connector.redis.xdel(self._stream.endpoint, pending.entry_id)
        except Exception as exc:  # Redis away: the deadline in the entry still holds
            log.info("could not withdraw %s: %s", describe(pending.instruction), exc)

    async def call(
        self,
        device: str | list[str] | None,
        action: str,
        parameter: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Send and wait; returns the reply's ``result``."""
        pending = await self.send(device, action, parameter, metadata, timeout=timeout)
        return (await self.wait(pending)).result

    @property
    def pending_count(self) -> int:
        """Instructions awaiting a reply."""
        return len(self._pending)


def _answers_older_copy(reply: DeviceInstructionResponse, pending: Pending) -> bool:
    """True for an "expired" answer to a copy whose deadline is older than the one we wait with."""
    info = reply.error_info
    if reply.status != "error" or info is None or info.exception_type != "InstructionExpired":
        return False
    answered = (reply.instruction.metadata if reply.instruction is not None else {}).get("expires_at")
    current = pending.instruction.metadata.get("expires_at")
    return isinstance(answered, (int, float)) and isinstance(current, (int, float)) and answered < current
