"""The file writer's Redis side: what it reads back (points, baseline, status) and what it publishes
(file messages, scan history, alarms)."""

from __future__ import annotations

import logging
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AlarmMessage,
    ErrorInfo,
    FileMessage,
    ScanBaselineMessage,
    ScanHistoryMessage,
    ScanMessage,
    ScanStatusMessage,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_file_writer.async_stream import AsyncStreams, enabled_devices, stream_keys

log = logging.getLogger(__name__)

#: lifetime of the public file keys (stock: one hour)
FILE_KEY_EXPIRY_S = 3600
#: keys fetched per round trip when catching up
FETCH_BATCH = 1000
WARNING = 0
MINOR = 1


class PointSource:
    """Reads a scan's stored state back from Redis (to catch up after a gap or a restart)."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector

    async def points(self, scan_id: str, first: int, last: int) -> dict[int, dict[str, Any]]:
        """Data of the stored points ``first .. last - 1`` that are still in Redis."""
        out: dict[int, dict[str, Any]] = {}
        for start in range(first, last, FETCH_BATCH):
            ids = list(range(start, min(last, start + FETCH_BATCH)))
            eps = [MessageEndpoints.public_scan_segment(scan_id, i) for i in ids]
            for point_id, msg in zip(ids, await self.connector.mget(eps), strict=True):
                if isinstance(msg, ScanMessage):
                    out[point_id] = msg.data
        return out

    async def baseline(self, scan_id: str) -> dict[str, Any] | None:
        """The scan's stored baseline, if any."""
        msg = await self.connector.get(MessageEndpoints.public_scan_baseline(scan_id))
        return msg.data if isinstance(msg, ScanBaselineMessage) else None

    async def status(self, scan_id: str) -> ScanStatusMessage | None:
        """The scan's stored status, if any."""
        msg = await self.connector.get(MessageEndpoints.public_scan_info(scan_id))
        return msg if isinstance(msg, ScanStatusMessage) else None

    async def async_streams(self, scan_id: str, async_devices: list[str]) -> AsyncStreams:
        """A reader of the scan's async data streams (see ``async_stream.py``)."""
        return AsyncStreams(self.connector, await stream_keys(self.connector, scan_id, async_devices))

    async def enabled_devices(self) -> set[str] | None:
        """The enabled devices of the current configuration (``None``: none stored)."""
        return await enabled_devices(self.connector)


class Announcer:
    """Publishes what the writer did."""

    def __init__(self, connector: AsyncRedisConnector, history_max: int) -> None:
        self.connector = connector
        self.history_max = history_max

    async def file(self, scan_id: str, path: str, done: bool, successful: bool) -> None:
        """SET+PUBLISH ``info/public/<scan_id>/file/master``."""
        msg = FileMessage(file_path=path, done=done, successful=successful, is_master_file=True)
        await self.connector.set_and_publish(
            MessageEndpoints.public_file(scan_id, "master"), msg, expire=FILE_KEY_EXPIRY_S
        )

    async def history(self, msg: ScanHistoryMessage) -> None:
        """Append to ``info/scans/scan_history`` (bounded as stock's)."""
        await self.connector.xadd(MessageEndpoints.scan_history(), {"data": msg}, max_size=self.history_max)

    async def alarm(
        self, text: str, exc: BaseException | None, metadata: dict[str, Any], severity: int = MINOR
    ) -> None:
        """An alarm, MINOR by default (stock's severity for a file it could not write; WARNING for
        async data it could not write)."""
        info = ErrorInfo(
            error_message=text,
            compact_error_message=text,
            exception_type=type(exc).__name__ if exc is not None else "FileWriterError",
        )
        log.error("alarm: %s", text)
        try:
            await self.connector.set_and_publish(
                MessageEndpoints.alarm(), AlarmMessage(severity=severity, info=info, metadata=metadata)
            )
        except Exception as err:  # Redis away: the log line above is what is left
            log.error("could not publish the alarm: %s", err)
