"""What the scan server publishes for clients: scan status, data, progress, alarms.

Scan points go through :class:`DataPublisher`: each point is queued as raw
commands (segment SEND, public segment SET, progress SET+PUBLISH). The scan's
next instruction takes them and writes them ahead of itself in one packet
(:meth:`DataPublisher.take`); whatever it does not take, a single task writes
in one pipeline per batch. Points stay in order, the scan never waits for its
own publications, and a burst of points costs one round trip.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Literal

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AlarmMessage, ErrorInfo, ProgressMessage, ScanMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector, Pipe
from bec_core.serialization import dumps
from bec_core.text import bounded_error_info

log = logging.getLogger(__name__)

Severity = Literal[0, 1, 2]
WARNING, MINOR, MAJOR = 0, 1, 2
SERVICE_NAME = "ScanServer"
#: metadata key marking the scan server's own alarms: they report a request that already failed,
#: so the scan server's alarm follower (:mod:`bec_scan_server.alarms`) must not act on them
SOURCE_KEY = "alarm_source"

Command = Sequence[Any]


class Commands(list):  # type: ignore[type-arg]
    """Raw Redis commands of one queued item (``("PUBLISH", channel, bytes)``, ...)."""


Item = Commands | Callable[[Pipe], Any] | asyncio.Future[None]


def error_info(exc: BaseException | str, device: str | list[str] | None = None) -> ErrorInfo:
    """An ErrorInfo for an exception (or a text), naming the device if known."""
    if isinstance(exc, BaseException):
        info = getattr(exc, "error_info", None)
        if isinstance(info, ErrorInfo):
            return info
        text = str(exc) or type(exc).__name__
        full = "".join(traceback.format_exception(exc)) if exc.__traceback__ else text
        return ErrorInfo(
            error_message=full, compact_error_message=text, exception_type=type(exc).__name__, device=device
        )
    return ErrorInfo(error_message=exc, compact_error_message=exc, exception_type="ScanError", device=device)


async def publish_alarm(
    connector: AsyncRedisConnector,
    severity: int,
    info: ErrorInfo,
    metadata: dict[str, Any] | None = None,
    pipe: Pipe | None = None,
) -> None:
    """SET+PUBLISH ``user/alarms``."""
    info = bounded_error_info(info)  # a request quoting megabytes makes an alarm of kilobytes
    msg = AlarmMessage(severity=severity, info=info, metadata={**(metadata or {}), SOURCE_KEY: SERVICE_NAME})
    log.log(logging.ERROR if severity == MAJOR else logging.WARNING, "alarm: %s", info.compact_error_message)
    await connector.set_and_publish(MessageEndpoints.alarm(), msg, pipe=pipe)


async def publish_scan_status(
    connector: AsyncRedisConnector, msg: ScanStatusMessage, expire_s: int, pipe: Pipe | None = None
) -> None:
    """``SET info/public/<id>/scan_info`` (EX once terminal) and SET+PUBLISH ``info/scans/scan_status``."""
    own = pipe if pipe is not None else connector.batch()
    terminal = msg.status not in ("open", "paused")
    await connector.set(
        MessageEndpoints.public_scan_info(msg.scan_id), msg, expire=expire_s if terminal else None, pipe=own
    )
    await connector.set_and_publish(MessageEndpoints.scan_status(), msg, pipe=own)
    if pipe is None:
        await own.execute()


#: SET the point's public key unless it exists, and PUBLISH the segment only then
#: (KEYS: public key, segment channel; ARGV: encoded ScanMessage, expiry in s)
PUBLISH_POINT_ONCE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return redis.call('PUBLISH', KEYS[2], ARGV[1])
end
return -1
"""


def scan_status_commands(msg: ScanStatusMessage, expire_s: int) -> list[Command]:
    """What :func:`publish_scan_status` writes, as raw commands (to go out in another write)."""
    raw = dumps(msg)
    info = MessageEndpoints.public_scan_info(msg.scan_id).endpoint
    status = MessageEndpoints.scan_status().endpoint
    terminal = msg.status not in ("open", "paused")
    return [
        ("SET", info, raw, "EX", expire_s) if terminal else ("SET", info, raw),
        ("SET", status, raw),
        ("PUBLISH", status, raw),
    ]


def withdrawn_key(scan_id: str, point_id: int) -> str:
    """Set once the scan server has withdrawn a point: its segment must not be published any more."""
    return f"internal/scan_server/withdrawn/{scan_id}/{point_id}"


async def withdraw_points(
    connector: AsyncRedisConnector, scan_id: str, point_ids: list[int], expire_s: int
) -> list[bool]:
    """Stop the device server from publishing these points' segments; for each, whether it had
    published it already. One transaction: a point's segment is published (by the device
    server's script) either before its guard is set, and then its key exists here, or never."""
    pipe = connector.pipeline(transaction=True)
    for point_id in point_ids:
        pipe.set(withdrawn_key(scan_id, point_id), 1, ex=expire_s)
        pipe.exists(MessageEndpoints.public_scan_segment(scan_id, point_id).endpoint)
    replies = await pipe.execute()
    return [bool(exists) for exists in replies[1::2]]


class DataPublisher:
    """Publishes scan points in order, batching whatever accumulated while Redis was busy.

    A point is queued as raw commands. The scan's next instruction may take the queued
    commands (:meth:`take`) to send them in its own write, ahead of the instruction;
    while it holds them the publishing task starts no batch, and what it could not send
    goes back to the front of the queue (:meth:`release`): one path at a time, in order.
    """

    def __init__(self, connector: AsyncRedisConnector, segment_expiry_s: int, window: int = 0) -> None:
        self.connector = connector
        self.expiry = segment_expiry_s
        self.window = window  # public segment keys kept per scan (0: all)
        self._queue: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False  # a batch of the task is being written
        self._held = False  # queued commands were taken by a caller (see take)
        self._segment = MessageEndpoints.scan_segment().endpoint
        self._progress = MessageEndpoints.scan_progress().endpoint
        self.published = 0
        self.errors = 0

    def start(self) -> None:
        """Start the publishing task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="data-publisher")

    async def close(self) -> None:
        """Publish what is queued, then stop."""
        if self._task is not None:
            await self.flush()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def point(
        self,
        scan_id: str,
        point_id: int,
        data: dict[str, Any],
        metadata: dict[str, Any],
        progress: ProgressMessage,
    ) -> None:
        """Queue one point: its segment, its public copy and the progress."""
        raw = dumps(ScanMessage(point_id=point_id, scan_id=scan_id, data=data, metadata=metadata))
        public = MessageEndpoints.public_scan_segment(scan_id, point_id).endpoint
        # once per point id: a write sent again after a lost reply publishes nothing twice
        commands: list[Command] = [("EVAL", PUBLISH_POINT_ONCE, 2, public, self._segment, raw, self.expiry)]
        if leaving := self._leaving_window(scan_id, point_id):
            commands.append(("DEL", leaving))
        self._put(Commands(commands + self._progress_commands(progress)))

    def segment_spec(self, scan_id: str, point_id: int, metadata: dict[str, Any]) -> dict[str, Any]:
        """What a ``point`` instruction needs to publish its own segment (the device server's
        ``Segment``): the same keys, expiry and retention window as :meth:`point`."""
        return {
            "scan_id": scan_id,
            "point_id": point_id,
            "metadata": metadata,
            "key": MessageEndpoints.public_scan_segment(scan_id, point_id).endpoint,
            "expire": self.expiry,
            "guard": withdrawn_key(scan_id, point_id),
            "forget": self._leaving_window(scan_id, point_id),
        }

    def progress(self, progress: ProgressMessage) -> None:
        """Queue a point's progress alone (its segment was published by the device server)."""
        self._put(Commands(self._progress_commands(progress)))

    def _leaving_window(self, scan_id: str, point_id: int) -> str:
        """The public segment key that leaves the retention window as ``point_id`` is stored, or ""."""
        old = point_id - self.window
        return MessageEndpoints.public_scan_segment(scan_id, old).endpoint if self.window and old >= 0 else ""

    def _progress_commands(self, progress: ProgressMessage) -> list[Command]:
        raw = dumps(progress)
        return [("SET", self._progress, raw), ("PUBLISH", self._progress, raw)]

    async def withdraw(self, scan_id: str, point_ids: list[int]) -> list[bool]:
        """:func:`withdraw_points` with this publisher's connector and expiry."""
        return await withdraw_points(self.connector, scan_id, point_ids, self.expiry)

    def commands(self, commands: list[Command]) -> None:
        """Queue raw commands (kept in order with the points)."""
        self._put(Commands(commands))

    def enqueue(self, add: Callable[[Pipe], Any]) -> None:
        """Queue any pipeline additions (kept in order with the points)."""
        self._put(add)

    def _put(self, item: Item) -> None:
        self._queue.append(item)
        self._wake.set()

    def take(self) -> list[Command]:
        """The queued commands, to be written by the caller ahead of its own, or ``[]``.

        Only when the task is not writing a batch and the queue holds nothing but commands
        (no pipeline additions, no flush): then the caller owns the order until
        :meth:`release`, during which the task starts no batch.
        """
        if self._busy or self._held or not self._queue:
            return []
        if not all(isinstance(item, Commands) for item in self._queue):
            return []
        taken = [command for item in self._queue for command in item]  # type: ignore[union-attr]
        self.published += len(self._queue)
        self._queue.clear()
        self._held = True
        return taken

    def release(self, unsent: list[Command] | None = None, replies: list[Any] | None = None) -> None:
        """End a :meth:`take`: ``unsent`` go back to the front of the queue; error ``replies`` are logged."""
        self._held = False
        if unsent:
            self._queue.appendleft(Commands(unsent))
        if replies:
            self._log_errors(replies)
        if self._queue:
            self._wake.set()

    def _log_errors(self, replies: list[Any]) -> None:
        failed = [r for r in replies if isinstance(r, Exception)]
        if failed:
            self.errors += 1
            log.error("could not publish %d scan data command(s): %s", len(failed), failed[0])

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written."""
        if self._task is None or self._task.done():
            self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(done)
        await asyncio.wait_for(asyncio.shield(done), timeout)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._held or not self._queue:
                continue  # the holder's release wakes us again
            batch: list[Item] = []
            while self._queue and len(batch) < 500:
                batch.append(self._queue.popleft())
            if self._queue:
                self._wake.set()
            waiters = [b for b in batch if isinstance(b, asyncio.Future)]
            adds = [b for b in batch if not isinstance(b, asyncio.Future)]
            if adds:
                self._busy = True
                pipe = self.connector.batch()
                try:
                    for add in adds:
                        if isinstance(add, Commands):
                            for command in add:
                                pipe.execute_command(*command)
                        else:
                            await add(pipe)
                    self._log_errors(list(await pipe.execute(raise_on_error=False)))
                    self.published += len(adds)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis trouble: the scan goes on, the loss is logged
                    self.errors += 1
                    log.error("could not publish %d scan data item(s): %s", len(adds), exc)
                finally:
                    self._busy = False
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)


def now() -> float:
    """Wall-clock time for message timestamps."""
    return time.time()
