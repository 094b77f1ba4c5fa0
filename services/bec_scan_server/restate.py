"""The scan server's state keys, written back into a Redis that lost them (:mod:`bec_core.restate`).

A scan that closed just before Redis was killed can have no end in Redis: its
``info/public/<scan_id>/scan_info`` and ``info/scans/scan_status`` keys gone or still
``open``, and a client that looks, or one that starts afterwards, waits for a scan
that finished long ago. The same holds for ``info/queue/queue_status``.
"""

from __future__ import annotations

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueStatusMessage, ScanStatusMessage
from bec_core.restate import Command, set_missing
from bec_core.serialization import dumps


def scan_server_keys(
    status: ScanStatusMessage | None, queue: ScanQueueStatusMessage, expiry_s: int
) -> list[Command]:
    """The last scan status (public key with its expiry once terminal, and ``scan_status``) and the
    queue status, each to be written where missing."""
    commands: list[Command] = []
    if status is not None:
        raw = dumps(status)
        terminal = status.status not in ("open", "paused")
        info = MessageEndpoints.public_scan_info(status.scan_id).endpoint
        commands.append(set_missing(info, raw, expiry_s if terminal else None))
        commands.append(set_missing(MessageEndpoints.scan_status().endpoint, raw))
    commands.append(set_missing(MessageEndpoints.scan_queue_status().endpoint, dumps(queue)))
    return commands


__all__ = ["scan_server_keys"]
