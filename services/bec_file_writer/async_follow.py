"""One scan's async device data, followed from the scan's opening to its end.

An :class:`AsyncFollower` finds the scan's async streams (``async_stream.py``), reads them
from their start while the scan runs (waiting at most ``ASYNC_BLOCK_MS`` for new entries,
``ASYNC_COUNT`` entries per stream at a time), hands each batch to the file thread
(``ScanFile.write_async``; a flush point every ``flush_interval_s`` while data arrives and
when it pauses, so readers see it as they see the rows), and once the scan has ended reads
what is left without waiting and writes the ``replace`` readings. A failure is raised as a
WARNING alarm (as stock's async writer does) and marks the file not successful; a reading
that does not fit its dataset is a WARNING alarm too, the rest is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from bec_core.messages import ScanStatusMessage
from bec_file_writer.redis_io import WARNING, Announcer, PointSource
from bec_file_writer.scan_file import ScanFile

log = logging.getLogger(__name__)

#: longest wait for a new stream entry (and so the longest delay before the final read once the
#: scan has ended)
ASYNC_BLOCK_MS = 50
#: entries read per stream at a time (bounds the memory one read takes)
ASYNC_COUNT = 100
#: alarms raised per scan for readings that did not fit (a device repeating a bad update)
MAX_ALARMS = 10


class Runner(Protocol):
    """The file thread (``job.FileThread``)."""

    async def call(self, fn: Any, *args: Any) -> Any: ...


class AsyncFollower:
    """Writes one scan's async data into its open file."""

    def __init__(
        self,
        scan_id: str,
        file: ScanFile,
        thread: Runner,
        source: PointSource,
        announce: Announcer,
        flush_interval_s: float = 0.2,
    ) -> None:
        self.scan_id = scan_id
        self.flush_interval_s = flush_interval_s
        self.file = file
        self.thread = thread
        self.source = source
        self.announce = announce
        self.entries = 0
        self.failed = False
        self.alarms = 0

    async def run(self, status: ScanStatusMessage, ended: asyncio.Event) -> None:
        """Follow the streams until ``ended`` is set and they are read to their end (never raises
        but for cancellation)."""
        try:
            priorities = status.readout_priority or status.info.get("readout_priority") or {}
            streams = await self.source.async_streams(self.scan_id, list(priorities.get("async") or []))
            if not streams.cursors:
                return
            last_flush, unflushed = time.monotonic(), False
            while True:
                done = ended.is_set()
                data = await streams.read(None if done else ASYNC_BLOCK_MS, ASYNC_COUNT)
                if data:
                    self.entries += await self.thread.call(self.file.write_async, data)
                    unflushed = True
                    await self._warnings()
                elif done:
                    break
                if unflushed and (not data or time.monotonic() - last_flush >= self.flush_interval_s):
                    # flush points also when no rows arrive (a fly scan of async devices only)
                    await self.thread.call(self.file.flush)
                    last_flush, unflushed = time.monotonic(), False
            await self.thread.call(self.file.finish_async)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed = True
            log.exception("scan %s: async data not written", self.scan_id)
            text = f"file writer: async data of scan {self.scan_id} not written to {self.file.path}: {exc}"
            await self.announce.alarm(text, exc, {"scan_id": self.scan_id}, WARNING)
        await self._warnings()

    async def _warnings(self) -> None:
        data = self.file.async_data
        if data is None or not data.warnings:
            return
        warnings, data.warnings = data.warnings, []
        for text in warnings:
            if self.alarms >= MAX_ALARMS:
                log.warning("scan %s: %s (no more alarms for this scan)", self.scan_id, text)
                continue
            self.alarms += 1
            await self.announce.alarm(text, None, {"scan_id": self.scan_id}, WARNING)
