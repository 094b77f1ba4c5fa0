"""``bec.queue``: the scan queue's status and its controls (pause, resume, abort, clear, history).

Each control is a ``ScanQueueModificationMessage`` on
``user/queue/queue_modification_request``. It carries a request id; the scan
server answers modifications that have one, so a refused action (e.g.
"abort: nothing is running") comes back as a clear error.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from bec_core.client.errors import ScanRejectedError
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import RequestTimeoutError

if TYPE_CHECKING:
    from bec_core.client.client import BECClient

#: how long a queue action waits for the server's answer
MODIFICATION_TIMEOUT_S = 5.0


class History(list[Any]):
    """Finished queue entries (``ScanQueueHistoryMessage``), shown as one readable line each."""

    @staticmethod
    def line(entry: Any) -> str:
        """``COMPLETED   scan 5 grid_scan  queue_id 6ed3...``."""
        blocks = entry.info.request_blocks
        kinds = ", ".join(
            f"scan {b.scan_number} {b.msg.scan_type}" if b.scan_number is not None else b.msg.scan_type
            for b in blocks
        )
        return f"{entry.status:<10} {kinds}  (queue_id {entry.queue_id})"

    def __repr__(self) -> str:
        if not self:
            return "<queue history: empty>"
        return "\n".join(self.line(entry) for entry in self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's display
        printer.text(repr(self))


class QueueControl:
    """Status and control of the scan queue (``primary`` unless told otherwise)."""

    def __init__(self, client: BECClient, queue: str = "primary") -> None:
        self._client = client
        self.queue = queue

    # ------------------------------------------------------------------ status
    def status_message(self) -> Any:
        """The current ScanQueueStatusMessage (None if the scan server never published one)."""
        return self._client.connector.get(MessageEndpoints.scan_queue_status())

    @property
    def state(self) -> str | None:
        """``RUNNING``, ``PAUSED`` or ``LOCKED`` for this queue."""
        msg = self.status_message()
        if msg is None or self.queue not in msg.queue:
            return None
        return msg.queue[self.queue].status

    def rows(self) -> list[dict[str, Any]]:
        """One row per queue entry: scan number, name, status, RID, scan id."""
        msg = self.status_message()
        if msg is None or self.queue not in msg.queue:
            return []
        rows = []
        for entry in msg.queue[self.queue].info:
            for block in entry.request_blocks:
                rows.append(
                    {
                        "scan_number": block.scan_number,
                        "scan_type": block.msg.scan_type,
                        "status": entry.status,
                        "is_scan": block.is_scan,
                        "RID": block.RID,
                        "scan_id": block.scan_id,
                        "queue_id": entry.queue_id,
                    }
                )
        return rows

    def history(self, count: int = 5) -> History:
        """The newest ``count`` finished entries (ScanQueueHistoryMessage), newest first.

        A list of the messages; it shows itself as one line per entry.
        """
        return History(self._client.connector.lrange(MessageEndpoints.scan_queue_history(), 0, count - 1))

    def show(self) -> None:
        """Print the queue as a table."""
        from bec_core.client.display import queue_table, stdout_console

        stdout_console().print(queue_table(self.state, self.rows()))

    def __repr__(self) -> str:
        rows = self.rows()
        return f"<queue {self.queue}: {self.state}, {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}>"

    # ------------------------------------------------------------------ control
    def pause(self) -> None:
        """Pause the queue; the running scan holds before its next point."""
        self.modify("pause")

    def deferred_pause(self) -> None:
        """Let the running scan finish, then hold the queue."""
        self.modify("deferred_pause")

    def resume(self) -> None:
        """Resume a paused queue and scan (BEC's ``continue``)."""
        self.modify("continue")

    def abort(self, scan_id: str | None = None) -> None:
        """Abort the running scan (or the given one); the queue pauses if more scans wait."""
        self.modify("abort", scan_id=scan_id)

    def halt(self, scan_id: str | None = None) -> None:
        """Stop the running scan without its clean-up hooks."""
        self.modify("halt", scan_id=scan_id)

    def clear(self) -> None:
        """Stop the running scan and drop every queued one."""
        self.modify("clear")

    def modify(self, action: str, scan_id: str | None = None, parameter: dict | None = None) -> None:
        """Send a queue modification and wait (briefly) for the server's answer.

        Raises:
            ScanRejectedError: the server refused the action (its reason is the text).
        """
        from bec_core.messages import ScanQueueModificationMessage

        rid = str(uuid.uuid4())
        msg = ScanQueueModificationMessage(
            scan_id=scan_id,
            action=action,  # type: ignore[arg-type]
            parameter=parameter or {},
            queue=self.queue,
            metadata={"RID": rid},
        )
        self._client.connector.send(MessageEndpoints.scan_queue_modification_request(), msg)
        try:
            self._client.wait_response(rid, MODIFICATION_TIMEOUT_S, what=f"answer to queue {action}")
        except ScanRejectedError as exc:
            raise ScanRejectedError(f"queue {action} refused: {exc.args[0]}") from None
        except RequestTimeoutError:
            # stock BEC servers do not answer modifications; ours always do
            self._client.notify(f"queue {action} sent; the scan server did not confirm it")
