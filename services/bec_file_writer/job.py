"""One scan's file, from the scan's first message to its FileMessage.

A :class:`ScanJob` is fed by the subscriptions (status, points, baseline, file references)
and runs one task: open the file when the scan's file path is known, append the points in
order as they arrive (gaps are filled from Redis at once, so a writer that was slow or
restarted catches up), flush at least every ``flush_interval_s`` and every ``flush_rows``
rows, and at the scan's end wait (at most ``segment_grace_s``) for the points the final
status counts, write the end-of-scan layout, close the file, publish the FileMessage and
append the scan to the history. HDF5 work runs in the writer's one file thread; the event
loop only hands over batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bec_core.config import FileWriterSettings
from bec_core.file_paths import FilePathError, master_file_path
from bec_core.messages import ScanHistoryMessage, ScanStatusMessage
from bec_file_writer.async_follow import AsyncFollower
from bec_file_writer.errors import FileWriteError
from bec_file_writer.layout import ScanSummary
from bec_file_writer.redis_io import Announcer, PointSource
from bec_file_writer.scan_file import ScanFile

log = logging.getLogger(__name__)
T = TypeVar("T")

TERMINAL = ("closed", "aborted", "halted", "user_completed")
#: with nothing arriving for this long, the job checks the scan's stored status
IDLE_CHECK_S = 1.0


class FileThread:
    """The one thread all HDF5 calls run in (h5py serialises them anyway)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hdf5")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the file thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        """Finish queued work and stop the thread."""
        self._pool.shutdown(wait=True)


class ScanJob:
    """Writes the master file of one scan."""

    def __init__(
        self,
        scan_id: str,
        settings: FileWriterSettings,
        thread: FileThread,
        source: PointSource,
        announce: Announcer,
        configuration: Callable[[], dict[str, dict[str, Any]]],
        version: str,
    ) -> None:
        self.scan_id = scan_id
        self.settings = settings
        self.thread = thread
        self.source = source
        self.announce = announce
        self.configuration = configuration
        self.version = version
        self.status: ScanStatusMessage | None = None
        self.final: ScanStatusMessage | None = None
        self.start_time: float | None = None
        self.pending: dict[int, dict[str, Any]] = {}
        self.next_point = 0
        self.baseline: dict[str, Any] | None = None
        self.file_references: dict[str, Any] = {}
        self.file: ScanFile | None = None
        self.missing = 0
        self.dropped = 0
        self.done = asyncio.Event()
        self._wake = asyncio.Event()
        self._ended = asyncio.Event()
        self._async_task: asyncio.Task[None] | None = None
        self.async_data: AsyncFollower | None = None
        self.rows_per_s = 0.0
        self.finished_at: float | None = None

    # ------------------------------------------------------------------ feeding (event loop)
    def on_status(self, msg: ScanStatusMessage) -> None:
        """A status of this scan (``open`` first, one terminal one last)."""
        if self.start_time is None and msg.status == "open":
            self.start_time = msg.timestamp
        if msg.status in TERMINAL:
            self.final = msg
            self._ended.set()
            if self.start_time is None:
                self.start_time = msg.timestamp
        self.status = msg
        self._wake.set()

    def on_point(self, point_id: int, data: dict[str, Any]) -> None:
        """One point's readings."""
        if point_id < self.next_point:
            return
        if len(self.pending) >= self.settings.max_pending_points:
            # Bounded memory: a writer this far behind reads these back from Redis later.
            self.dropped += 1
            return
        self.pending[point_id] = data
        self._wake.set()

    def on_baseline(self, data: dict[str, Any]) -> None:
        """The scan's baseline readings."""
        self.baseline = data
        self._wake.set()

    def on_file_reference(self, name: str, msg: Any) -> None:
        """A file a device wrote for this scan."""
        self.file_references[name] = msg

    # ------------------------------------------------------------------ the task
    async def run(self) -> None:
        """Write the file; always ends with ``done`` set."""
        try:
            await self._run()
        except asyncio.CancelledError:
            await self._stop_async()
            await self._close_quietly()
            raise
        except Exception as exc:
            log.exception("scan %s: file writer failed", self.scan_id)
            await self._stop_async()
            await self._fail(self._path_or_unknown(), exc)
        finally:
            self.done.set()

    async def _stop_async(self) -> None:
        if self._async_task is not None and not self._async_task.done():
            self._async_task.cancel()
            await asyncio.gather(self._async_task, return_exceptions=True)

    def _path_or_unknown(self) -> str:
        return self.file.path if self.file is not None else "(no path)"

    async def _run(self) -> None:
        status = await self._wait_for_status()
        path = self._path(status)
        if path is None:
            return
        self.file = ScanFile(path)
        try:
            await self.thread.call(self.file.open, self._summary(status))
        except FileWriteError as exc:
            await self._fail(path, exc)
            return
        await self.announce.file(self.scan_id, path, done=False, successful=False)
        self.async_data = AsyncFollower(
            self.scan_id, self.file, self.thread, self.source, self.announce, self.settings.flush_interval_s
        )
        self._async_task = asyncio.get_running_loop().create_task(
            self.async_data.run(status, self._ended), name=f"file-async:{self.scan_id}"
        )
        await self._write_loop()
        await self._async_task
        await self._finish()

    async def _wait_for_status(self) -> ScanStatusMessage:
        if self.status is None:
            stored = await self.source.status(self.scan_id)  # joined mid-scan: the stored status
            if stored is not None and self.status is None:
                self.on_status(stored)
        while self.status is None:
            self._wake.clear()
            await self._wake.wait()
        return self.status

    def _path(self, status: ScanStatusMessage) -> str | None:
        components = status.info.get("file_components")
        if not components:
            log.error("scan %s: no file_components in its status; no file written", self.scan_id)
            return None
        suffix = (status.scan_parameters.get("system_config") or {}).get("file_suffix")
        try:
            return master_file_path(components, "master", suffix)
        except FilePathError as exc:
            log.error("scan %s: %s", self.scan_id, exc)
            return None

    def _expected(self) -> int | None:
        if self.final is None:
            return None
        return int(self.final.num_monitored_readouts or 0)

    async def _write_loop(self) -> None:
        assert self.file is not None
        last_flush = time.monotonic()
        unflushed = 0
        grace_deadline: float | None = None
        fetched_final = False
        while True:
            expected = self._expected()
            if expected is not None and grace_deadline is None:
                grace_deadline = time.monotonic() + self.settings.segment_grace_s
            if self.pending and min(self.pending) > self.next_point:
                await self._fill_gap(min(self.pending))
            batch = self._take_contiguous()
            if self.baseline is not None and not self.file.baseline_written:
                await self.thread.call(self.file.write_baseline, self.baseline)
                unflushed += 1
            if batch and expected is not None:
                grace_deadline = time.monotonic() + self.settings.segment_grace_s  # still arriving
            if batch:
                started = time.monotonic()
                await self.thread.call(self.file.append, batch)
                elapsed = time.monotonic() - started
                self.rows_per_s = len(batch) / elapsed if elapsed > 0 else float("inf")
                unflushed += len(batch)
            now = time.monotonic()
            due = now - last_flush >= self.settings.flush_interval_s
            if unflushed and (unflushed >= self.settings.flush_rows or due):
                await self.thread.call(self.file.flush)
                last_flush, unflushed = now, 0
            if expected is not None and self.next_point >= expected and not self.pending:
                return
            if expected is not None and not self.pending and not fetched_final:
                # The scan ended and points are missing: the scan server stored every point
                # before announcing the end, so read them back now (lost on the way, or
                # dropped while the writer was behind) instead of waiting.
                fetched_final = True
                self.pending.update(await self.source.points(self.scan_id, self.next_point, expected))
                continue
            if grace_deadline is not None and now >= grace_deadline:
                await self._give_up_waiting(expected or 0)
                return
            if not self.pending:  # (pending points left here mean a gap: filled at the top)
                woken = await self._sleep_until_woken(last_flush if unflushed else None, grace_deadline)
                if not woken and self.final is None:
                    await self._check_stored_status()

    async def _sleep_until_woken(self, last_flush: float | None, grace_deadline: float | None) -> bool:
        """Wait for new data, the next flush or the grace deadline; False if nothing woke us."""
        deadlines = [time.monotonic() + IDLE_CHECK_S]
        if last_flush is not None:
            deadlines.append(last_flush + self.settings.flush_interval_s)
        if grace_deadline is not None:
            deadlines.append(grace_deadline)
        timeout = max(0.0, min(deadlines) - time.monotonic())
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _check_stored_status(self) -> None:
        """Nothing arrived for a while: did the scan end while its status did not reach us
        (a subscription that Redis dropped because the writer was behind)?"""
        try:
            stored = await self.source.status(self.scan_id)
        except Exception as exc:  # Redis away: the subscription resumes by itself; check later
            log.debug("scan %s: cannot read its stored status: %s", self.scan_id, exc)
            return
        if stored is not None and stored.status in TERMINAL and self.final is None:
            log.warning(
                "scan %s: its end (%s) came from Redis, not the subscription", self.scan_id, stored.status
            )
            self.on_status(stored)

    def _take_contiguous(self) -> list[dict[str, Any]]:
        batch = []
        while self.next_point in self.pending:
            batch.append(self.pending.pop(self.next_point))
            self.next_point += 1
        return batch

    async def _fill_gap(self, upto: int) -> None:
        """Points before ``upto`` never came on the subscription: read them from Redis."""
        found = await self.source.points(self.scan_id, self.next_point, upto)
        for point_id, data in found.items():
            self.pending.setdefault(point_id, data)
        if self.next_point not in self.pending:
            # Gone from Redis too: skip to the first point we have, counting the loss.
            first = min((p for p in self.pending if p >= self.next_point), default=upto)
            self.missing += first - self.next_point
            log.error("scan %s: points %d..%d lost", self.scan_id, self.next_point, first - 1)
            self.next_point = first

    async def _give_up_waiting(self, expected: int) -> None:
        if self.next_point < expected:
            await self._fill_gap(expected)
            batch = self._take_contiguous()
            if batch:
                await self.thread.call(self.file.append, batch)  # type: ignore[union-attr]
        if self.baseline is None:
            self.baseline = await self.source.baseline(self.scan_id)
            if self.baseline is not None:
                await self.thread.call(self.file.write_baseline, self.baseline)  # type: ignore[union-attr]
        leftover = sorted(self.pending)
        if leftover:  # beyond the count the final status gave: keep them, in order
            await self.thread.call(self.file.append, [self.pending.pop(p) for p in leftover])  # type: ignore[union-attr]
        if self.next_point < expected:
            self.missing += expected - self.next_point
            log.error(
                "scan %s: %d of %d points never arrived", self.scan_id, expected - self.next_point, expected
            )

    def _summary(self, status: ScanStatusMessage, end_time: float | None = None) -> ScanSummary:
        info = dict(status.info)
        info["status"] = status.status
        info["reason"] = status.reason
        return ScanSummary(
            scan_id=self.scan_id,
            info=info,
            start_time=self.start_time if self.start_time is not None else status.timestamp,
            end_time=end_time,
            configuration=self.configuration(),
            file_references=dict(self.file_references),
            program_version=self.version,
        )

    async def _finish(self) -> None:
        assert self.file is not None and self.final is not None
        final = self.final
        summary = self._summary(final, final.timestamp)
        enabled = await self.source.enabled_devices()
        if enabled is not None:  # stock drops the configuration of removed and disabled devices
            summary.configuration = {d: c for d, c in summary.configuration.items() if d in enabled}
        complete = self.missing == 0 and not (self.async_data is not None and self.async_data.failed)
        stored = await self.thread.call(self.file.stored_data_info)
        try:
            await self.thread.call(self.file.finish, summary, complete)
        except Exception as exc:
            await self._fail(self.file.path, exc)
            return
        self.finished_at = time.time()
        await self.announce.file(self.scan_id, self.file.path, done=True, successful=complete)
        if complete:
            await self._history(final, stored)

    async def _history(self, final: ScanStatusMessage, stored: dict[str, dict[str, Any]]) -> None:
        assert self.file is not None
        try:
            msg = ScanHistoryMessage(
                scan_id=self.scan_id,
                scan_number=int(final.scan_number or final.info.get("scan_number") or 0),
                dataset_number=int(final.dataset_number or final.info.get("dataset_number") or 0),
                file_path=self.file.path,
                exit_status=final.status,  # type: ignore[arg-type]
                reason=final.reason,
                start_time=float(self.start_time or final.timestamp),
                end_time=float(final.timestamp),
                scan_name=str(final.scan_name or final.info.get("scan_name") or ""),
                num_points=final.num_points,
                num_monitored_readouts=final.num_monitored_readouts,
                request_inputs=final.request_inputs or final.info.get("request_inputs") or {},
                stored_data_info=stored,
            )
            await self.announce.history(msg)
        except Exception as exc:
            log.error("scan %s: could not append to the scan history: %s", self.scan_id, exc)

    async def _fail(self, path: str, exc: BaseException) -> None:
        await self._close_quietly()
        metadata = {"scan_id": self.scan_id}
        await self.announce.alarm(f"file writer: cannot write {path}: {exc}", exc, metadata)
        try:
            await self.announce.file(self.scan_id, path, done=True, successful=False)
        except Exception as err:
            log.error("scan %s: could not publish the file message: %s", self.scan_id, err)

    async def _close_quietly(self) -> None:
        if self.file is not None and self.file.is_open:
            try:
                await self.thread.call(self.file.flush)
            except Exception:
                pass
            await self.thread.call(self.file.close)

    # ------------------------------------------------------------------ waiting (tests, server)
    async def wait(self, timeout: float) -> None:
        """Wait for the job's end."""
        await asyncio.wait_for(self.done.wait(), timeout)


JobFactory = Callable[[str], ScanJob]
Starter = Callable[[ScanJob], Awaitable[None]]
