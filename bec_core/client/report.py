"""What a scan call returns: :class:`ScanReport` (``.wait()``) and its :class:`ScanItem` (``.data``).

Waiting follows events (request response, queue status, scan status, scan
segments) through the client's :class:`~bec_core.client.events.EventHub`.
While nothing arrives, a liveness check runs about once a second: the scan
server's heartbeat must exist, and a lost Redis connection is reported once
and waited out (after it comes back, the scan's state is re-read from the
``info/public/<scan_id>/...`` keys, so nothing published meanwhile is lost).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bec_core.client.data import DataView, ScanData
from bec_core.client.errors import START_HINT, ScanAbortedError, ScanRejectedError, ServerNotRunningError
from bec_core.client.events import ItemState
from bec_core.endpoints import MessageEndpoints

if TYPE_CHECKING:
    from bec_core.client.client import BECClient

TERMINAL = ("closed", "aborted", "halted", "user_completed")
#: how long the scan server's heartbeat may be missing before a wait gives up
HEARTBEAT_GRACE_S = 8.0
#: how long after "closed" the last points may still be in flight
LAST_POINTS_GRACE_S = 3.0


class Liveness:
    """Checks, during long waits, that Redis answers and the scan server's heartbeat is alive."""

    def __init__(self, client: BECClient, service: str = "ScanServer") -> None:
        self.client = client
        self.service = service
        self.lost_redis = False
        self.missing_since: float | None = None

    def check(self) -> bool:
        """Raise :class:`ServerNotRunningError` if the service is gone; True when Redis just came back."""
        from redis.exceptions import RedisError

        try:
            msg = self.client.connector.get(MessageEndpoints.service_status(self.service))
        except (RedisError, OSError, TimeoutError) as exc:
            if not self.lost_redis:
                self.lost_redis = True
                self.client.notify(
                    f"lost the connection to Redis at {self.client.redis_url} ({_short(exc)}); "
                    "waiting for it to come back (Ctrl-C to stop waiting)"
                )
            return False
        came_back = self.lost_redis
        if came_back:
            self.lost_redis = False
            self.missing_since = None
            self.client.notify("Redis is back; resuming")
        now = time.monotonic()
        if msg is None:
            self.missing_since = self.missing_since or now
            if now - self.missing_since > HEARTBEAT_GRACE_S:
                raise ServerNotRunningError(
                    f"the {self.service} stopped: no heartbeat on user/services/status/{self.service} "
                    f"for {HEARTBEAT_GRACE_S:g} s; {START_HINT}"
                )
        else:
            self.missing_since = None
        return came_back


class ScanItem:
    """The scan a request became: number, status and the data collected so far."""

    def __init__(self, report: ScanReport) -> None:
        self._report = report

    @property
    def scan_id(self) -> str | None:
        """The scan's id (known once the scan server queued it)."""
        item = self._report._client.events.items.get(self._report.rid)
        return item.scan_id if item else None

    @property
    def scan_number(self) -> int | None:
        """The scan number (known once the scan started)."""
        status = self.status_message
        if status is not None and status.scan_number is not None:
            return status.scan_number
        item = self._report._client.events.items.get(self._report.rid)
        return item.scan_number if item else None

    @property
    def status_message(self) -> Any:
        """The latest ScanStatusMessage of the scan (or None)."""
        scan_id = self.scan_id
        return self._report._client.events.scan_state(scan_id).status if scan_id else None

    @property
    def status(self) -> str | None:
        """``open``, ``paused``, ``closed``, ``aborted``, ``halted``, ``user_completed`` or None."""
        msg = self.status_message
        return msg.status if msg is not None else None

    @property
    def num_points(self) -> int | None:
        """The number of points the scan announced."""
        msg = self.status_message
        return msg.num_points if msg is not None else None

    @property
    def raw(self) -> ScanData:
        """The collector holding the points as they arrived."""
        scan_id = self.scan_id
        if scan_id is None:
            return ScanData()
        return self._report._client.events.scan_state(scan_id).data

    @property
    def data(self) -> DataView:
        """Points per device and signal as numpy arrays.

        ``data["bpm4i"]["bpm4i"]`` or ``data.bpm4i.bpm4i``: one entry per point, ordered by point id.
        """
        return self.raw.view()

    @property
    def timestamps(self) -> DataView:
        """Like :attr:`data`, with the timestamps of the readings."""
        return self.raw.view("timestamp")

    def to_csv(self, path: str | Path) -> Path:
        """Write the points as CSV (one row per point); return the path."""
        return self.raw.to_csv(path)

    def plot(
        self, path: str | Path | None = None, x: str | None = None, y: str | list[str] | None = None
    ) -> Any:
        """A matplotlib figure: ``y`` (default: the hinted detector signals) against the scanned motor.

        A grid scan of two motors is drawn as a heat map of the first detector. ``y`` and ``x``
        take ``device`` or ``device.signal`` names. With ``path`` the figure is saved (PNG by
        extension) and the path returned.
        """
        from bec_core.client.plot import plot_scan

        return plot_scan(self, path=path, x=x, y=y)

    @property
    def motors(self) -> list[str]:
        """The devices the scan moved (its report devices)."""
        msg = self.status_message
        return list(msg.scan_report_devices or []) if msg is not None else []

    def __repr__(self) -> str:
        return f"<scan {self.scan_number} ({self.status}) {len(self.raw)} points>"


class ScanReport:
    """Returned by every scan call: ``report.wait()``, then ``report.scan.data``."""

    def __init__(self, client: BECClient, request: Any) -> None:
        self._client = client
        self.request = request
        self.rid: str = request.metadata["RID"]
        self.scan_name: str = request.scan_type
        self.scan = ScanItem(self)
        self.file: Any = None
        """The master FileMessage, after ``wait(file_written=True)``."""

    @property
    def status(self) -> str:
        """The scan's status if it started, else the queue status of the request."""
        if self.scan.status is not None:
            return self.scan.status
        item = self._client.events.items.get(self.rid)
        return item.status if item else "SENT"

    def wait(
        self, timeout: float | None = None, response_timeout: float = 10.0, file_written: bool = False
    ) -> ScanReport:
        """Block until the scan ended (and, with ``file_written``, its master file is done); return self.

        Raises:
            ScanRejectedError: the server refused the request.
            ScanAbortedError: the scan ended aborted or halted (the text says why).
            ServerNotRunningError: the scan server (or, waiting for the file, the file
                writer) stopped while we waited.
            RequestTimeoutError: ``timeout`` seconds passed.
        """
        client = self._client
        hub = client.events
        start = time.monotonic()
        client.wait_response(self.rid, response_timeout)
        liveness = Liveness(client)

        def tick() -> None:
            if liveness.check():
                self._resync()

        def outcome() -> Any:
            item = hub.items.get(self.rid)
            if item is None or item.scan_id is None:
                return None
            state = hub.scans.get(item.scan_id)
            if state is not None and state.status is not None and state.status.status in TERMINAL:
                return state.status
            if not item.in_queue or item.status in ("STOPPED", "CANCELLED", "COMPLETED"):
                return item
            return None

        remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
        result = hub.wait_for(outcome, remaining, f"end of {self.scan_name} (RID {self.rid})", tick)
        if isinstance(result, ItemState):
            result = self._final_status(result)
        if result.status in ("aborted", "halted"):
            raise ScanAbortedError(self._abort_text(result), result.status, result.reason)
        self._collect_last_points(result)
        if file_written and result.scan_id:
            remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
            self.file = wait_master_file(client, result.scan_id, remaining)
        return self

    def _final_status(self, item: Any) -> Any:
        """The queue said the request ended; fetch the scan's final status if we missed it."""
        msg = self._client.connector.get(MessageEndpoints.public_scan_info(item.scan_id))
        if msg is not None and msg.status in TERMINAL:
            self._client.events.apply_scan_status(msg)
            return msg
        from bec_core.messages import ScanStatusMessage

        status: Literal["closed", "aborted"] = "closed" if item.status == "COMPLETED" else "aborted"
        return ScanStatusMessage(
            scan_id=item.scan_id,
            status=status,
            reason=item.reason or ("user" if item.status == "CANCELLED" else None),
            scan_number=item.scan_number,
            info={},
        )

    def _abort_text(self, status: Any) -> str:
        number = f"scan {status.scan_number}" if status.scan_number is not None else "the scan"
        text = f"{number} ({self.scan_name}) was {status.status}"
        alarm = self._client.events.alarm_for(self.rid, status.scan_id, 0)
        if alarm is not None:
            return f"{text}: {alarm.info.compact_error_message or alarm.info.error_message}"
        if status.reason == "user":
            return f"{text} by the user"
        return f"{text} (reason: {status.reason or 'unknown'})"

    def _collect_last_points(self, status: Any) -> None:
        """After ``closed``, make sure every announced point is here (from the public keys if needed)."""
        total = status.num_monitored_readouts or status.num_points or 0
        data = self._client.events.scan_state(status.scan_id).data
        if not total or len(data) >= total:
            return
        try:
            self._client.events.wait_for(lambda: len(data) >= total, LAST_POINTS_GRACE_S, "last points")
        except TimeoutError:
            self._fetch_points(status.scan_id, data.missing(total))

    def _fetch_points(self, scan_id: str, point_ids: list[int]) -> None:
        if not point_ids:
            return
        keys = [MessageEndpoints.public_scan_segment(scan_id, i) for i in point_ids]
        found = [m for m in self._client.connector.mget(keys) if m is not None]
        self._client.events.apply_segments(found)

    def _resync(self) -> None:
        """Re-read what may have been published while the connection was down."""
        c, hub = self._client.connector, self._client.events
        queue = c.get(MessageEndpoints.scan_queue_status())
        if queue is not None:
            hub.apply_queue_status(queue)
        item = hub.items.get(self.rid)
        if item is None or item.scan_id is None:
            return
        status = c.get(MessageEndpoints.public_scan_info(item.scan_id))
        if status is not None:
            hub.apply_scan_status(status)
            total = status.num_monitored_readouts or status.num_points or 0
            self._fetch_points(item.scan_id, hub.scan_state(item.scan_id).data.missing(total))

    def __repr__(self) -> str:
        return f"<ScanReport {self.scan_name} RID={self.rid} status={self.status}>"


def wait_master_file(client: BECClient, scan_id: str, timeout: float | None) -> Any:
    """The scan's master :class:`FileMessage` once ``done`` (what stock's ``file_written`` waits for)."""
    hub, conn = client.events, client.connector
    endpoint = MessageEndpoints.public_file(scan_id, "master")
    seen: list[Any] = []

    def on_file(msg: Any, **_: Any) -> None:
        with hub.cond:
            seen.append(msg.value)
            hub.cond.notify_all()

    def done() -> Any:
        return next((m for m in reversed(seen) if getattr(m, "done", False)), None)

    conn.register(endpoint, cb=on_file)
    try:
        current = conn.get(endpoint)
        if current is not None:
            with hub.cond:
                seen.append(current)
        liveness = Liveness(client, "FileWriterManager")
        return hub.wait_for(done, timeout, f"master file of scan {scan_id}", lambda: liveness.check())
    finally:
        conn.unregister(endpoint, cb=on_file)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]


__all__ = ["Liveness", "ScanAbortedError", "ScanItem", "ScanRejectedError", "ScanReport"]
