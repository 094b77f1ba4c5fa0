"""At start-up: find the scans whose master file nobody finished and write them from Redis.

A scan counts as unfinished if its stored status (``info/public/<id>/scan_info``, kept by the
scan server for its data's lifetime) names file components but its master FileMessage is
absent or not ``done``: the writer was down, or was killed while writing it. Such a scan
gets a job like a live one; the job reads the points back from Redis, rewrites the file
and, if the scan is still running, goes on with the live points.
"""

from __future__ import annotations

import logging

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import FileMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_file_writer.manager import JobManager

log = logging.getLogger(__name__)


async def unfinished_scans(connector: AsyncRedisConnector) -> list[ScanStatusMessage]:
    """Stored scan statuses with file components whose master file is not done, oldest first."""
    keys = await connector.keys(MessageEndpoints.public_scan_info())
    out = []
    for status in await connector.mget(keys):
        if not isinstance(status, ScanStatusMessage) or not status.scan_id:
            continue
        if not status.info.get("file_components"):
            continue
        file_msg = await connector.get(MessageEndpoints.public_file(status.scan_id, "master"))
        if isinstance(file_msg, FileMessage) and file_msg.done:
            continue
        out.append(status)
    return sorted(out, key=lambda s: s.timestamp)


async def resume_unfinished(connector: AsyncRedisConnector, jobs: JobManager) -> int:
    """Start a job for every unfinished scan; returns how many."""
    found = await unfinished_scans(connector)
    for status in found:
        assert status.scan_id is not None
        job = jobs.job(status.scan_id)
        if job is not None and job.status is None:
            log.warning(
                "scan %s (number %s): its file was not finished; writing it from Redis",
                status.scan_id,
                status.scan_number,
            )
            job.on_status(status)
    return len(found)


async def load_configuration(connector: AsyncRedisConnector, jobs: JobManager) -> None:
    """Every device's last configuration reading (kept current by the subscription afterwards)."""
    keys = await connector.keys(MessageEndpoints.device_read_configuration())
    for key, msg in zip(keys, await connector.mget(keys), strict=True):
        signals = getattr(msg, "signals", None)
        if isinstance(signals, dict):
            jobs.configuration.setdefault(key.rsplit("/", 1)[-1], signals)
