"""Scan-queue messages and the queue helper models (BEC 4.x names and fields)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from bec_core.messages.base import BECMessage, register_helper_model

ReadoutPriorityKey = Literal["monitored", "baseline", "async", "continuous", "on_request"]

QueueModificationAction = Literal[
    "pause",
    "deferred_pause",
    "continue",
    "abort",
    "clear",
    "restart",
    "halt",
    "resume",
    "lock",
    "release_lock",
    "user_completed",
]


class ScanQueueMessage(BECMessage):
    """A scan (or RPC) request for the scan queue: ``parameter = {"args": ..., "kwargs": ...}``."""

    msg_type: ClassVar[str] = "scan_queue_message"
    scan_type: str
    parameter: dict
    queue: str = "primary"
    allow_restart: bool = True


class ScanRestartMessage(BECMessage):
    """Announces that a scan is restarted, with the request that restarts it."""

    msg_type: ClassVar[str] = "scan_restart"
    original_scan_id: str
    scan_msg: ScanQueueMessage


class ScanQueueModificationMessage(BECMessage):
    """A request to pause, abort, halt, clear, lock, ... a queue or one of its requests."""

    msg_type: ClassVar[str] = "scan_queue_modification"
    scan_id: str | list[str] | list[None] | None = None
    request_id: str | None = None
    action: QueueModificationAction
    parameter: dict
    queue: str = "primary"


class ScanQueueOrderMessage(BECMessage):
    """A request to move a queued scan up, down, to the top, bottom or a position."""

    msg_type: ClassVar[str] = "scan_queue_order"
    scan_id: str
    action: Literal["move_up", "move_down", "move_top", "move_bottom", "move_to"]
    queue: str = "primary"
    target_position: int | None = None


@register_helper_model
class RequestBlock(BaseModel):
    """One request (a scan or an RPC call) inside a queue entry."""

    msg: ScanQueueMessage
    RID: str
    readout_priority: dict[ReadoutPriorityKey, list[str]]
    is_scan: bool
    scan_number: int | None
    scan_id: str | None
    report_instructions: list[dict] | None = None
    owned_device_locks: list[str] = Field(default_factory=list)
    pending_device_locks: list[str] = Field(default_factory=list)


@register_helper_model
class QueueInfoEntry(BaseModel):
    """One element of a scan queue; it may hold several request blocks."""

    queue_id: str
    scan_id: list[str | None]
    is_scan: list[bool]
    request_blocks: list[RequestBlock]
    scan_number: list[int | None]
    status: str
    active_request_block: RequestBlock | None = None
    reason: Literal["user", "alarm", "restart"] | None = None


@register_helper_model
class ScanQueueLock(BaseModel):
    """A lock applied to a scan queue, with its reason and owner."""

    reason: str
    identifier: str
    allow_device_instructions: bool = True


@register_helper_model
class ScanQueueStatus(BaseModel):
    """Status of one queue (e.g. "primary"): its entries, state and locks."""

    info: list[QueueInfoEntry]
    status: Literal["PAUSED", "RUNNING", "LOCKED"]
    locks: list[ScanQueueLock] = Field(default_factory=list)


class ScanQueueStatusMessage(BECMessage):
    """Status of every queue by name; BEC clients require a "primary" entry."""

    msg_type: ClassVar[str] = "scan_queue_status"
    queue: dict[str, ScanQueueStatus]


class ScanQueueHistoryMessage(BECMessage):
    """A finished queue entry, appended to the queue history."""

    msg_type: ClassVar[str] = "queue_history"
    status: str
    queue_id: str
    info: QueueInfoEntry
    queue: str = "primary"


class RequestResponseMessage(BECMessage):
    """Accepts or rejects a request; ``metadata["RID"]`` names the request."""

    msg_type: ClassVar[str] = "request_response"
    accepted: bool
    message: str | dict | None = None
