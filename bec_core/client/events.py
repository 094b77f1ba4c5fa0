"""What the client hears from the servers, kept in one place and waited on by events.

:class:`EventHub` subscribes once (request responses, queue status, scan
status, scan segments, alarms) and keeps the latest state per request id and
per scan id. Waiting is event-driven: a :class:`threading.Condition` is
notified by every message, and waiters sleep on it; periodic wake-ups exist
only to check liveness (heartbeats, Redis), never to poll for the result.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bec_core.client.data import ScanData
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import RequestTimeoutError

T = TypeVar("T")
Listener = Callable[[str, Any], None]

#: how many scans (data and status) and request ids are remembered
MAX_SCANS = 20
MAX_REQUESTS = 500


@dataclass
class ItemState:
    """A request's queue entry as last seen in the queue status."""

    rid: str
    queue_id: str | None = None
    scan_id: str | None = None
    scan_number: int | None = None
    is_scan: bool = False
    status: str = "PENDING"
    report_instructions: list[dict] = field(default_factory=list)
    in_queue: bool = True
    reason: str | None = None


@dataclass
class ScanState:
    """A scan's latest ScanStatusMessage and its data."""

    scan_id: str
    status: Any = None
    data: ScanData = field(default_factory=ScanData)


class EventHub:
    """Subscriptions and state shared by every report and display of one client."""

    def __init__(self, connector: Any) -> None:
        self.connector = connector
        self.cond = threading.Condition()
        self.responses: OrderedDict[str, Any] = OrderedDict()
        self.items: OrderedDict[str, ItemState] = OrderedDict()
        self.scans: OrderedDict[str, ScanState] = OrderedDict()
        self.queue_status: Any = None
        self.alarms: deque[Any] = deque(maxlen=50)
        self.progress: Any = None
        self._listeners: list[Listener] = []
        self._started = False

    # ------------------------------------------------------------------ subscriptions
    def start(self) -> None:
        """Subscribe to everything the client follows (idempotent)."""
        if self._started:
            return
        self._started = True
        c = self.connector
        c.register(MessageEndpoints.scan_queue_request_response(), cb=self._on_response)
        c.register(MessageEndpoints.scan_queue_status(), cb=self._on_queue_status)
        c.register(MessageEndpoints.scan_status(), cb=self._on_scan_status)
        c.register(MessageEndpoints.scan_segment(), cb=self._on_segment)
        c.register(MessageEndpoints.alarm(), cb=self._on_alarm)
        c.register(MessageEndpoints.scan_progress(), cb=self._on_progress)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(kind, value)`` for every event (kinds: response, queue_status,
        scan_status, segment, alarm, progress). It runs in the connector's callback thread."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, kind: str, value: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, value)
            except Exception:  # a display must never break the client's bookkeeping
                pass

    # ------------------------------------------------------------------ handlers
    def _on_response(self, msg: Any, **_: Any) -> None:
        rid = (msg.value.metadata or {}).get("RID")
        if rid:
            with self.cond:
                self.responses[rid] = msg.value
                _trim(self.responses, MAX_REQUESTS)
                self.cond.notify_all()
        self._emit("response", msg.value)

    def _on_queue_status(self, msg: Any, **_: Any) -> None:
        self.apply_queue_status(msg.value)

    def apply_queue_status(self, value: Any) -> None:
        """Take a ScanQueueStatusMessage into account (also used after a reconnect)."""
        seen: set[str] = set()
        with self.cond:
            self.queue_status = value
            for queue in value.queue.values():
                for entry in queue.info:
                    for block in entry.request_blocks:
                        seen.add(block.RID)
                        item = self.items.get(block.RID) or ItemState(block.RID)
                        item.queue_id = entry.queue_id
                        item.scan_id = block.scan_id or item.scan_id
                        item.scan_number = block.scan_number if block.scan_number else item.scan_number
                        item.is_scan = block.is_scan
                        item.status = entry.status
                        item.reason = entry.reason
                        item.report_instructions = list(block.report_instructions or [])
                        item.in_queue = True
                        self.items[block.RID] = item
            for rid, item in self.items.items():
                if rid not in seen:
                    item.in_queue = False
            _trim(self.items, MAX_REQUESTS)
            self.cond.notify_all()
        self._emit("queue_status", value)

    def _on_scan_status(self, msg: Any, **_: Any) -> None:
        self.apply_scan_status(msg.value)

    def apply_scan_status(self, value: Any) -> None:
        """Take a ScanStatusMessage into account."""
        if not value.scan_id:
            return
        with self.cond:
            state = self._scan(value.scan_id)
            state.status = value
            rid = (value.metadata or {}).get("RID")
            if rid:
                item = self.items.get(rid) or ItemState(rid, scan_id=value.scan_id, is_scan=True)
                item.scan_id = value.scan_id
                item.scan_number = value.scan_number
                self.items[rid] = item
            self.cond.notify_all()
        self._emit("scan_status", value)

    def _on_segment(self, msg: Any, **_: Any) -> None:
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        self.apply_segments(values)

    def apply_segments(self, values: list[Any]) -> None:
        """Store ScanMessages (one point each) with their scan."""
        with self.cond:
            for value in values:
                if getattr(value, "scan_id", None) is None:
                    continue
                self._scan(value.scan_id).data.add(value)
            self.cond.notify_all()
        self._emit("segment", values)

    def _on_alarm(self, msg: Any, **_: Any) -> None:
        with self.cond:
            self.alarms.append(msg.value)
            self.cond.notify_all()
        self._emit("alarm", msg.value)

    def _on_progress(self, msg: Any, **_: Any) -> None:
        self.progress = msg.value
        self._emit("progress", msg.value)

    def _scan(self, scan_id: str) -> ScanState:
        state = self.scans.get(scan_id)
        if state is None:
            state = self.scans[scan_id] = ScanState(scan_id, data=ScanData(scan_id))
            _trim(self.scans, MAX_SCANS)
        return state

    # ------------------------------------------------------------------ lookups
    def scan_state(self, scan_id: str) -> ScanState:
        """The state of a scan (created empty if nothing arrived yet)."""
        with self.cond:
            return self._scan(scan_id)

    def alarm_for(self, rid: str | None, scan_id: str | None, since: float) -> Any:
        """The newest alarm about this request or scan raised after ``since`` (monotonic), if any."""
        for alarm in reversed(self.alarms):
            meta = alarm.metadata or {}
            if (rid and meta.get("RID") == rid) or (scan_id and meta.get("scan_id") == scan_id):
                return alarm
        return None

    # ------------------------------------------------------------------ waiting
    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float | None,
        what: str,
        on_tick: Callable[[], object] | None = None,
        tick: float = 1.0,
    ) -> T:
        """Wait until ``predicate()`` returns something other than None/False; return it.

        ``on_tick`` runs (outside the lock) about every ``tick`` seconds of
        silence: the liveness check, which raises to end the wait.

        Raises:
            RequestTimeoutError: ``timeout`` seconds passed; the text names ``what``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last_tick = time.monotonic()
        while True:
            with self.cond:
                while True:
                    result = predicate()
                    if result is not None and result is not False:
                        return result
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        raise RequestTimeoutError(f"no {what} within {timeout:g} s")
                    if now - last_tick >= tick:
                        break
                    wait = tick - (now - last_tick)
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    self.cond.wait(wait)
            if on_tick is not None:
                on_tick()
            last_tick = time.monotonic()


def _trim(mapping: OrderedDict[str, Any], size: int) -> None:
    while len(mapping) > size:
        mapping.popitem(last=False)
