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
from bec_scan_server.publisher import scan_status_commands


def scan_server_keys(
    status: ScanStatusMessage | None, queue: ScanQueueStatusMessage, expiry_s: int
) -> list[Command]:
    """The keys :func:`~bec_scan_server.publisher.scan_status_commands` sets for the last scan status
    (the public one with its expiry once terminal), and the queue status, each to be written where
    missing (``NX``; the publications left out)."""
    commands: list[Command] = []
    if status is not None:
        commands = [(*c, "NX") for c in scan_status_commands(status, expiry_s) if c[0] == "SET"]
    commands.append(set_missing(MessageEndpoints.scan_queue_status().endpoint, dumps(queue)))
    return commands


__all__ = ["scan_server_keys"]
