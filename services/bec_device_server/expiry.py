"""Instructions nobody waits for any more are answered, not executed (docs/decisions/0004).

Two independent checks, made just before an instruction would run:

* **deadline**: the sender writes ``metadata["expires_at"]`` (Unix time, seconds)
  = the moment it stops waiting for the reply. Past it, nobody can be waiting.
* **scan ended**: an instruction carrying a ``scan_id`` whose scan is known to
  have ended (``closed``, ``aborted``, ``halted``, ``user_completed``) is not
  executed, except the clean-up actions ``stop`` and ``unstage`` (and anything
  flagged ``cleanup``). The device server follows ``info/scans/scan_status``;
  for a scan it has not seen (a process that started after the scan opened) it
  reads ``info/public/<scan_id>/scan_info`` once.

Either way the reply is an error of type ``InstructionExpired`` whose text says
"expired, not executed" and why.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceInstructionMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector, MessageObject
from bec_device_server.errors import InstructionError

log = logging.getLogger(__name__)

END_STATES = frozenset({"closed", "aborted", "halted", "user_completed"})
#: actions that only bring devices to rest; allowed after the scan's end
CLEANUP_ACTIONS = frozenset({"stop", "unstage"})
#: scans whose state is remembered
MAX_SCANS = 1000


class InstructionExpired(InstructionError):
    """The instruction was not executed: its deadline passed or its scan ended."""

    exception_type = "InstructionExpired"


class ScanStates:
    """The last known status of recent scans, from the scan-status channel and the public keys."""

    def __init__(self, connector: AsyncRedisConnector, clock: Callable[[], float] = time.time) -> None:
        self.connector = connector
        self.clock = clock
        self.states: OrderedDict[str, str] = OrderedDict()
        #: called as ``on_end(scan_id, status)`` when a scan's end is published
        self.on_end: Callable[[str, str], None] | None = None

    async def start(self) -> None:
        """Follow ``info/scans/scan_status`` (plain callback: recorded as each status arrives)."""
        await self.connector.register(MessageEndpoints.scan_status(), self.on_status)

    def on_status(self, msg: MessageObject) -> None:
        """Remember the status of every ScanStatusMessage published."""
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for value in values:
            if isinstance(value, ScanStatusMessage) and value.scan_id:
                self.remember(str(value.scan_id), str(value.status))
                if value.status in END_STATES and self.on_end is not None:
                    self.on_end(str(value.scan_id), str(value.status))

    def remember(self, scan_id: str, status: str) -> None:
        """Record ``status`` for ``scan_id`` (the oldest entries are forgotten)."""
        self.states[scan_id] = status
        self.states.move_to_end(scan_id)
        while len(self.states) > MAX_SCANS:
            self.states.popitem(last=False)

    async def status_of(self, scan_id: str) -> str | None:
        """The scan's last known status; looked up once in Redis for a scan not seen yet."""
        status = self.states.get(scan_id)
        if status is not None:
            return status
        try:
            msg = await self.connector.get(MessageEndpoints.public_scan_info(scan_id))
        except Exception as exc:  # undecodable or Redis trouble: the deadline still applies
            log.warning("cannot look up the status of scan %s: %s", scan_id, exc)
            return None
        if isinstance(msg, ScanStatusMessage):
            self.remember(scan_id, str(msg.status))
            return str(msg.status)
        return None  # not opened yet (positions are read before "open") or long forgotten

    async def why_expired(self, instr: DeviceInstructionMessage) -> str | None:
        """Why ``instr`` must not run (None: it may)."""
        meta = instr.metadata
        expires_at = meta.get("expires_at")
        if isinstance(expires_at, (int, float)) and not isinstance(expires_at, bool):
            late = self.clock() - float(expires_at)
            if late > 0:
                return f"its deadline passed {late:.1f} s ago: nobody waits for the reply any more"
        scan_id = meta.get("scan_id")
        if not scan_id or instr.action in CLEANUP_ACTIONS or meta.get("cleanup"):
            return None
        status = await self.status_of(str(scan_id))
        if status in END_STATES:
            return f"its scan {scan_id} has ended ({status})"
        return None

    async def check(self, instr: DeviceInstructionMessage) -> None:
        """Raise :class:`InstructionExpired` if ``instr`` must not run."""
        reason = await self.why_expired(instr)
        if reason is not None:
            raise InstructionExpired(f"{instr.action} expired, not executed: {reason}", instr.device)


__all__ = ["CLEANUP_ACTIONS", "END_STATES", "InstructionExpired", "ScanStates"]
