"""MAJOR alarms stop scans, as stock BEC's scan server does (issue 13).

The scan server follows ``user/alarms``. An AlarmMessage of severity MAJOR, raised by any
service or client, names its queue in ``metadata.queue`` (default ``primary``) and may name a
scan in ``metadata.scan_id``:

* a scan that is waiting in the queue is cancelled;
* no scan id, or the running scan's id: the running request ends ``aborted`` with reason
  ``alarm`` and the alarm's text as its exit note; if more requests wait, the queue pauses
  (as after a user's abort);
* a scan id the queue no longer holds (the alarm of a scan that already ended) changes nothing.

The scan server's own MAJOR alarms report scans that failed already; they are marked (see
:data:`~bec_scan_server.publisher.SOURCE_KEY`) and never stop anything.
"""

from __future__ import annotations

import logging
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AlarmMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.base import MessageObject
from bec_scan_server.manager import PRIMARY, QueueManager
from bec_scan_server.modifications import stopped
from bec_scan_server.publisher import MAJOR, SERVICE_NAME, SOURCE_KEY

log = logging.getLogger(__name__)


def alarm_text(alarm: AlarmMessage) -> str:
    """What the alarm says, for the stopped scan's exit note."""
    info = alarm.info
    text = info.compact_error_message or info.error_message or info.exception_type
    return f"alarm: {text}" if text else "alarm"


class AlarmStopper:
    """Ends or cancels the scan a MAJOR alarm names."""

    def __init__(self, connector: AsyncRedisConnector, manager: QueueManager) -> None:
        self.connector = connector
        self.manager = manager
        self.handled = 0  #: MAJOR alarms that stopped or cancelled a request (tests, logs)

    async def start(self) -> None:
        """Follow ``user/alarms``."""
        await self.connector.register(MessageEndpoints.alarm(), self._on_alarm)

    async def _on_alarm(self, msg: MessageObject) -> None:
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for value in values:
            if isinstance(value, AlarmMessage):
                try:
                    await self.handle(value)
                except Exception as exc:  # one bad alarm must not end the subscription
                    log.error("alarm handling failed: %s", exc)

    async def handle(self, alarm: AlarmMessage) -> str | None:
        """Act on one alarm; returns what was done ("aborted", "cancelled") or None."""
        meta: dict[str, Any] = alarm.metadata or {}
        if alarm.severity != MAJOR or meta.get(SOURCE_KEY) == SERVICE_NAME:
            return None
        name = meta.get("queue") or PRIMARY
        queue = self.manager.queues.get(name) if isinstance(name, str) else None
        if queue is None:
            log.warning("MAJOR alarm for queue %r: no such queue, nothing stopped", name)
            return None
        scan_id = meta.get("scan_id")
        ids = [i for i in (scan_id if isinstance(scan_id, list) else [scan_id]) if i]
        item = queue.find(ids) if ids else queue.active
        if item is None:
            return None  # nothing runs, or the named scan is over
        note = alarm_text(alarm)
        if item is not queue.active:
            log.warning("MAJOR alarm for pending scan %s: cancelled (%s)", item.scan_id, note)
            await self.manager.cancel_pending(queue, item)  # CANCELLED, in the history as stock
            done = "cancelled"
        else:
            control = self.manager.controls.get(queue.name)
            if control is None or control.exit is not None:
                return None  # already ending
            log.warning("MAJOR alarm: aborting %s (%s)", item.scan_id or item.rid, note)
            if queue.pending:
                queue.paused = True  # as after a user's abort: the next scan waits for "continue"
            item.reason = "alarm"
            control.resume()
            control.stop("aborted", "alarm", note=note)
            stopped(item)
            done = "aborted"
        self.handled += 1
        await self.manager.publish_status()
        return done
