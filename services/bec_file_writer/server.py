"""The file writer service: follows the scans in Redis and writes one master file per scan."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import bec_core
from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.service import Service
from bec_file_writer.job import FileThread, ScanJob
from bec_file_writer.manager import JobManager
from bec_file_writer.recovery import load_configuration, resume_unfinished
from bec_file_writer.redis_io import Announcer, PointSource

log = logging.getLogger(__name__)

#: points a subscription may hold before the writer takes them (then the oldest are dropped
#: and read back from Redis as a gap)
SEGMENT_QUEUE = 100_000


class FileWriter(Service):
    """bec-core's file writer (heartbeat ``FileWriterManager``, as stock's)."""

    name: ClassVar[str] = "FileWriterManager"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.thread = FileThread()
        self.source = PointSource(self.connector)
        self.announce = Announcer(self.connector, settings.file_writer.history_max)
        self.jobs = JobManager(self._new_job)

    def _new_job(self, scan_id: str) -> ScanJob:
        return ScanJob(
            scan_id,
            self.settings.file_writer,
            self.thread,
            self.source,
            self.announce,
            lambda: dict(self.jobs.configuration),
            bec_core.__version__,
        )

    async def setup(self) -> None:
        """Subscribe, load the device configurations, resume unfinished files."""
        conn, jobs = self.connector, self.jobs
        await conn.register(MessageEndpoints.scan_status(), jobs.on_status, maxsize=SEGMENT_QUEUE)
        await conn.register(MessageEndpoints.scan_segment(), jobs.on_segment, maxsize=SEGMENT_QUEUE)
        await conn.register(MessageEndpoints.scan_baseline(), jobs.on_baseline)
        await conn.register(MessageEndpoints.public_file(), jobs.on_file)
        await conn.register(MessageEndpoints.device_read_configuration(), jobs.on_configuration)
        await load_configuration(conn, jobs)
        resumed = await resume_unfinished(conn, jobs)
        if resumed:
            log.warning("resuming %d unfinished file(s)", resumed)

    async def shutdown(self) -> None:
        """Stop the jobs (files flushed and closed) and the file thread."""
        await self.jobs.close(self.settings.timeouts.shutdown / 2)
        self.thread.close()

    def heartbeat_info(self) -> dict[str, Any]:
        """Heartbeat info plus the scans being written."""
        info = super().heartbeat_info()
        info["writing"] = {sid: job.next_point for sid, job in self.jobs.jobs.items()}
        return info
