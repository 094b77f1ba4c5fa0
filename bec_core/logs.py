"""Logging for services: readable lines on stderr, WARNING and above also on ``user/log``.

Records for Redis are queued by a logging handler (no I/O in the caller) and
written by a background task in batches, one pipeline per batch, so a log line
inside a scan point never costs a Redis round trip.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
from typing import TYPE_CHECKING

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import LogMessage
from bec_core.text import cut_text

if TYPE_CHECKING:
    from bec_core.redis_connector import AsyncRedisConnector

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


def setup_logging(level: str | int = "INFO", service: str = "bec") -> None:
    """Human-readable lines on stderr: time, level, service, logger, message."""
    root = logging.getLogger()
    root.setLevel(level if isinstance(level, int) else level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_bec_stderr", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._bec_stderr = True  # type: ignore[attr-defined]
    handler.setFormatter(
        BoundedFormatter(f"%(asctime)s %(levelname)-7s {service} %(name)s: %(message)s", "%H:%M:%S")
    )
    root.addHandler(handler)


class BoundedFormatter(logging.Formatter):
    """A formatter whose message part is cut to :data:`~bec_core.text.MAX_ENTRY` characters
    (a request quoting a megabyte gives a line, not a megabyte); a traceback is kept whole."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = cut_text(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


class RedisLogHandler(logging.Handler):
    """Queues WARNING+ records; :meth:`run` writes them to ``user/log`` in batches."""

    def __init__(self, service: str, level: int = logging.WARNING, maxlen: int = 10_000) -> None:
        super().__init__(level)
        self.service = service
        self.dropped = 0
        self._pending: collections.deque[LogMessage] = collections.deque(maxlen=maxlen)
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("bec_core.redis_connector", "redis")):
            return  # never log about Redis trouble through Redis
        try:
            text = cut_text(self.format(record) if self.formatter else record.getMessage())
            msg = LogMessage(
                log_type=_LEVELS.get(record.levelno, "warning"),  # type: ignore[arg-type]
                log_msg={
                    "text": text,
                    "service_name": self.service,
                    "record": {"name": record.name, "level": record.levelname, "time": record.created},
                },
            )
        except Exception:  # a log call must never raise
            return
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(msg)
        if self._loop is not None and self._wakeup is not None:
            try:
                self._loop.call_soon_threadsafe(self._wakeup.set)
            except RuntimeError:  # loop closed
                pass

    def wake(self) -> None:
        """Wake the writer (e.g. to let it see that the service is closing)."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def run(self, connector: AsyncRedisConnector, closing: asyncio.Event, max_batch: int = 200) -> None:
        """Write queued records in batches (one pipeline each) until ``closing`` is set."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        endpoint = MessageEndpoints.log()
        while not closing.is_set():
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                pipe = connector.pipeline()
                for _ in range(min(max_batch, len(self._pending))):
                    await connector.xadd(
                        endpoint, {"data": self._pending.popleft()}, max_size=10_000, pipe=pipe
                    )
                try:
                    await connector.execute_pipeline(pipe)
                except Exception:  # Redis away: these lines are lost, stderr still has them
                    break
