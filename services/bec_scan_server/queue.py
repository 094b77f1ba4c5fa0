"""The queue model: items, named FIFO queues, and how they look in ``queue_status``.

Pure data and rules (no Redis, no tasks), so ordering and modifications can be
unit-tested; :mod:`bec_scan_server.manager` runs and publishes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from bec_core.messages import (
    QueueInfoEntry,
    RequestBlock,
    ScanQueueLock,
    ScanQueueMessage,
    ScanQueueStatus,
)
from bec_scan_server.scans.base import ScanBase

ItemStatus = Literal["PENDING", "RUNNING", "PAUSED", "DEFERRED_PAUSE", "COMPLETED", "STOPPED", "CANCELLED"]
FINAL = ("COMPLETED", "STOPPED", "CANCELLED")


class QueueError(ValueError):
    """A queue operation that cannot be done (unknown scan, wrong state)."""


@dataclass(eq=False)
class QueueItem:
    """One request in a queue (BEC's queue element with a single request block)."""

    request: ScanQueueMessage
    scan: ScanBase
    queue_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    scan_id: str | None = None
    status: ItemStatus = "PENDING"
    scan_number: int | None = None
    dataset_number: int | None = None
    readout_priority: dict[str, list[str]] = field(default_factory=dict)
    report_instructions: list[dict[str, Any]] = field(default_factory=list)
    reason: Literal["user", "alarm", "restart"] | None = None
    #: the stored form (see :mod:`bec_scan_server.store`)
    raw: bytes = b""

    def __post_init__(self) -> None:
        if self.scan_id is None and self.scan.is_scan:
            self.scan_id = str(uuid.uuid4())
        if not self.report_instructions:
            self.report_instructions = self.scan.report_instructions()

    @property
    def rid(self) -> str:
        """The request id the client chose (``metadata.RID``)."""
        return str(self.request.metadata.get("RID", ""))

    @property
    def is_scan(self) -> bool:
        """True for scans (they get numbers and a scan status)."""
        return self.scan.is_scan

    def block(self, scan_number: int | None = None) -> RequestBlock:
        """The item's request block (``scan_number`` predicted for pending scans)."""
        readout = {k: list(v) for k, v in self.readout_priority.items()} or {
            "monitored": [],
            "baseline": [],
            "async": [],
            "continuous": [],
            "on_request": [],
        }
        return RequestBlock(
            msg=self.request,
            RID=self.rid,
            readout_priority=readout,  # type: ignore[arg-type]
            is_scan=self.is_scan,
            scan_number=self.scan_number if self.scan_number is not None else scan_number,
            scan_id=self.scan_id,
            report_instructions=self.report_instructions,
        )

    def describe(self, scan_number: int | None = None) -> QueueInfoEntry:
        """The item as a QueueInfoEntry (what clients see in the queue status)."""
        block = self.block(scan_number)
        return QueueInfoEntry(
            queue_id=self.queue_id,
            scan_id=[self.scan_id],
            is_scan=[self.is_scan],
            request_blocks=[block],
            scan_number=[block.scan_number],
            status=self.status,
            active_request_block=block if self.status not in ("PENDING", *FINAL) else None,
            reason=self.reason,
        )

    def matches(self, scan_id: str | None = None, request_id: str | None = None) -> bool:
        """True if the item is the one a modification names."""
        return (scan_id is not None and scan_id == self.scan_id) or (
            request_id is not None and request_id in (self.rid, self.queue_id)
        )


class ScanQueue:
    """One named FIFO queue: pending items, the active one, pause state and locks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pending: list[QueueItem] = []
        self.active: QueueItem | None = None
        self.paused = False
        self.locks: dict[str, ScanQueueLock] = {}

    @property
    def status(self) -> Literal["PAUSED", "RUNNING", "LOCKED"]:
        """Queue state as clients see it."""
        if self.locks:
            return "LOCKED"
        return "PAUSED" if self.paused else "RUNNING"

    def append(self, item: QueueItem) -> None:
        """Queue an item at the end."""
        self.pending.append(item)

    def insert(self, position: int, item: QueueItem) -> None:
        """Queue an item at ``position`` among the pending ones."""
        self.pending.insert(max(0, position), item)

    def next_ready(self) -> QueueItem | None:
        """The item to start now, if the queue may start one."""
        if self.active is not None or not self.pending or self.paused:
            return None
        head = self.pending[0]
        if self.locks and (
            head.is_scan or not all(lk.allow_device_instructions for lk in self.locks.values())
        ):
            return None
        return head

    def take(self, item: QueueItem) -> None:
        """Make a pending item the active one."""
        self.pending.remove(item)
        self.active = item
        item.status = "RUNNING"

    def find(self, scan_id: Any = None, request_id: str | None = None) -> QueueItem | None:
        """The active or pending item a modification names (neither given: the active one)."""
        ids = [i for i in (scan_id if isinstance(scan_id, list) else [scan_id]) if i is not None]
        if not ids and request_id is None:
            return self.active
        for item in [self.active, *self.pending]:
            if item is None:
                continue
            if any(item.scan_id == i for i in ids) or (
                request_id is not None and item.matches(None, request_id)
            ):
                return item
        return None

    def remove(self, item: QueueItem) -> None:
        """Drop a pending item."""
        self.pending.remove(item)

    def move(self, scan_id: str, action: str, target: int | None = None) -> None:
        """Reorder a pending scan: move_up, move_down, move_top, move_bottom, move_to."""
        item = next((i for i in self.pending if i.scan_id == scan_id), None)
        if item is None:
            raise QueueError(f"no pending scan {scan_id} in queue {self.name!r}")
        index = self.pending.index(item)
        moves = {
            "move_up": index - 1,
            "move_down": index + 1,
            "move_top": 0,
            "move_bottom": len(self.pending) - 1,
            "move_to": target,
        }
        if action not in moves:
            raise QueueError(f"unknown order change {action!r}")
        new = moves[action]
        if new is None:
            raise QueueError("move_to needs a target_position")
        new = min(max(int(new), 0), len(self.pending) - 1)
        self.pending.pop(index)
        self.pending.insert(new, item)

    def export(self, last_scan_number: int) -> ScanQueueStatus:
        """The queue for ``info/queue/queue_status``; pending scans get predicted numbers."""
        info = []
        next_number = last_scan_number
        if self.active is not None:
            info.append(self.active.describe())
        for item in self.pending:
            predicted = None
            if item.is_scan:
                next_number += 1
                predicted = next_number
            info.append(item.describe(predicted))
        return ScanQueueStatus(info=info, status=self.status, locks=list(self.locks.values()))
