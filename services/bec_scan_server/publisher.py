"""What the scan server publishes for clients: scan status, data, progress, alarms.

Scan points go through :class:`DataPublisher`: a single task drains a queue of
points and writes each batch in one pipeline (segment SEND, public segment
SET, progress SET+PUBLISH), so points stay in order, the scan never waits for
its own publications, and a burst of points costs one round trip.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any, Literal

from redis.asyncio.client import Pipeline

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AlarmMessage, ErrorInfo, ProgressMessage, ScanMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps
from bec_core.text import bounded_error_info

log = logging.getLogger(__name__)

Severity = Literal[0, 1, 2]
WARNING, MINOR, MAJOR = 0, 1, 2
SERVICE_NAME = "ScanServer"
#: metadata key marking the scan server's own alarms: they report a request that already failed,
#: so the scan server's alarm follower (:mod:`bec_scan_server.alarms`) must not act on them
SOURCE_KEY = "alarm_source"


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
    pipe: Pipeline | None = None,
) -> None:
    """SET+PUBLISH ``user/alarms``."""
    info = bounded_error_info(info)  # a request quoting megabytes makes an alarm of kilobytes
    msg = AlarmMessage(severity=severity, info=info, metadata={**(metadata or {}), SOURCE_KEY: SERVICE_NAME})
    log.log(logging.ERROR if severity == MAJOR else logging.WARNING, "alarm: %s", info.compact_error_message)
    await connector.set_and_publish(MessageEndpoints.alarm(), msg, pipe=pipe)


async def publish_scan_status(
    connector: AsyncRedisConnector, msg: ScanStatusMessage, expire_s: int, pipe: Pipeline | None = None
) -> None:
    """``SET info/public/<id>/scan_info`` (EX once terminal) and SET+PUBLISH ``info/scans/scan_status``."""
    own = pipe if pipe is not None else connector.pipeline()
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


class DataPublisher:
    """Publishes scan points in order, batching whatever accumulated while Redis was busy."""

    def __init__(self, connector: AsyncRedisConnector, segment_expiry_s: int, window: int = 0) -> None:
        self.connector = connector
        self.expiry = segment_expiry_s
        self.window = window  # public segment keys kept per scan (0: all)
        self._queue: asyncio.Queue[Callable[[Pipeline], Any] | asyncio.Future[None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
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
        msg = ScanMessage(point_id=point_id, scan_id=scan_id, data=data, metadata=metadata)
        segment = MessageEndpoints.scan_segment().endpoint
        public = MessageEndpoints.public_scan_segment(scan_id, point_id).endpoint
        progress_key = MessageEndpoints.scan_progress().endpoint
        old = point_id - self.window
        expired = None
        if self.window and old >= 0:
            expired = MessageEndpoints.public_scan_segment(scan_id, old).endpoint

        async def add(pipe: Pipeline) -> None:
            raw = dumps(msg)  # encoded once for the segment and its public copy
            # once per point id: a pipeline redis-py retries after a lost reply publishes nothing twice
            pipe.eval(PUBLISH_POINT_ONCE, 2, public, segment, raw, self.expiry)
            if expired is not None:
                pipe.delete(expired)
            raw_progress = dumps(progress)
            pipe.set(progress_key, raw_progress)
            pipe.publish(progress_key, raw_progress)

        self._queue.put_nowait(add)

    def enqueue(self, add: Callable[[Pipeline], Any]) -> None:
        """Queue any pipeline additions (kept in order with the points)."""
        self._queue.put_nowait(add)

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written."""
        if self._task is None or self._task.done():
            self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(done)
        await asyncio.wait_for(asyncio.shield(done), timeout)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            waiters = [b for b in batch if isinstance(b, asyncio.Future)]
            adds = [b for b in batch if not isinstance(b, asyncio.Future)]
            if adds:
                pipe = self.connector.pipeline()
                try:
                    for add in adds:
                        await add(pipe)  # type: ignore[operator]
                    await pipe.execute()
                    self.published += len(adds)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis trouble: the scan goes on, the loss is logged
                    self.errors += 1
                    log.error("could not publish %d scan data item(s): %s", len(adds), exc)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)


def now() -> float:
    """Wall-clock time for message timestamps."""
    return time.time()
