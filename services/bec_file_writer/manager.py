"""Routes the scan messages the writer follows to one :class:`ScanJob` per scan.

Callbacks run on the event loop and only hand data over; each job has its own task.
Messages of a scan whose file is already finished are ignored (a late or repeated one),
remembered for the newest ``FINISHED_MEMORY`` scans.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from bec_core.messages import FileMessage, ScanBaselineMessage, ScanMessage, ScanStatusMessage
from bec_core.redis_connector.base import MessageObject
from bec_file_writer.job import ScanJob

log = logging.getLogger(__name__)

FINISHED_MEMORY = 1000
#: scans whose device file messages are kept until the scan's first own message arrives
PENDING_FILE_SCANS = 100


class JobManager:
    """The scans being written, by scan id."""

    def __init__(self, new_job: Callable[[str], ScanJob]) -> None:
        self.new_job = new_job
        self.jobs: OrderedDict[str, ScanJob] = OrderedDict()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.finished: deque[str] = deque(maxlen=FINISHED_MEMORY)
        self.completed: deque[ScanJob] = deque(maxlen=100)
        self.configuration: dict[str, dict[str, Any]] = {}
        self.pending_files: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def job(self, scan_id: str) -> ScanJob | None:
        """The job for ``scan_id``, created (and started) on its first message; None once finished."""
        if scan_id in self.finished:
            return None
        job = self.jobs.get(scan_id)
        if job is None:
            job = self.new_job(scan_id)
            for name, file_msg in self.pending_files.pop(scan_id, {}).items():
                job.on_file_reference(name, file_msg)
            self.jobs[scan_id] = job
            task = asyncio.get_running_loop().create_task(job.run(), name=f"file:{scan_id}")
            self.tasks[scan_id] = task
            task.add_done_callback(functools.partial(self._ended, scan_id))
        return job

    def _ended(self, scan_id: str, _task: asyncio.Task[None]) -> None:
        job = self.jobs.pop(scan_id, None)
        self.tasks.pop(scan_id, None)
        self.finished.append(scan_id)
        if job is not None:
            self.completed.append(job)

    # ------------------------------------------------------------------ callbacks
    def on_status(self, msg: MessageObject) -> None:
        """``info/scans/scan_status``."""
        value = msg.value
        if isinstance(value, ScanStatusMessage) and value.scan_id:
            job = self.job(value.scan_id)
            if job is not None:
                job.on_status(value)

    def on_segment(self, msg: MessageObject) -> None:
        """``info/scans/scan_segment``: a ScanMessage or a bundle (list) of them."""
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for value in values:
            if isinstance(value, ScanMessage):
                job = self.job(value.scan_id)
                if job is not None:
                    job.on_point(value.point_id, value.data)

    def on_baseline(self, msg: MessageObject) -> None:
        """``info/scans/scan_baseline``."""
        value = msg.value
        if isinstance(value, ScanBaselineMessage):
            job = self.job(value.scan_id)
            if job is not None:
                job.on_baseline(value.data)

    def on_file(self, msg: MessageObject) -> None:
        """``info/public/<scan_id>/file/<name>``: files devices wrote (not our own master file)."""
        value = msg.value
        parts = msg.topic.rsplit("/", 3)
        if not isinstance(value, FileMessage) or len(parts) != 4:
            return
        _, scan_id, _, name = parts
        if name == "master" or value.is_master_file:
            return
        job = self.jobs.get(scan_id)
        if job is not None:
            job.on_file_reference(name, value)
        elif scan_id not in self.finished:  # a device may announce its file before the scan's status
            self.pending_files.setdefault(scan_id, {})[name] = value
            while len(self.pending_files) > PENDING_FILE_SCANS:
                self.pending_files.popitem(last=False)

    def on_configuration(self, msg: MessageObject) -> None:
        """``info/devices/read_configuration/<device>``."""
        device = msg.topic.rsplit("/", 1)[-1]
        signals = getattr(msg.value, "signals", None)
        if isinstance(signals, dict):
            self.configuration[device] = signals

    # ------------------------------------------------------------------ shutdown
    async def close(self, timeout: float) -> None:
        """Cancel the running jobs (their files are flushed and closed, left marked ``writing``)."""
        for task in list(self.tasks.values()):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=timeout)
