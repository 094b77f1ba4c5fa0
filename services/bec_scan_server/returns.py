"""Relative scans move their motors back to where they started (as stock BEC's scans do).

After the scan's procedure (and after an abort, a halt or an error) the runner
calls :func:`return_to_start` before the scan's final status is published, so
a client that sees ``closed``/``aborted`` finds the motors back. The move has
a deadline; a motor that does not get back raises a MAJOR alarm naming it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from bec_core.messages import ErrorInfo
from bec_core.redis_connector import AsyncRedisConnector
from bec_scan_server.publisher import MAJOR, publish_alarm
from bec_scan_server.scans.base import ScanBase

log = logging.getLogger(__name__)


class _Mover(Protocol):
    positions: dict[str, float]

    async def set(self, values: dict[str, float], wait: bool = True, response: bool = False) -> Any: ...


def start_positions(scan: ScanBase, positions: dict[str, float]) -> dict[str, float]:
    """The motors a finished ``scan`` must return, with their start positions (empty if none)."""
    if not (scan.is_scan and scan.relative and scan.returns_to_start):
        return {}
    return {motor: positions[motor] for motor in scan.motors() if motor in positions}


async def return_to_start(
    connector: AsyncRedisConnector,
    mover: _Mover,
    scan: ScanBase,
    deadline: float,
    metadata: dict[str, Any],
    severity: int = MAJOR,
) -> bool:
    """Move a relative scan's motors back to their start positions within ``deadline`` seconds.

    Returns True if they arrived (or there was nothing to do). A failure or a
    missed deadline raises an alarm naming the motors (``severity``: MAJOR, or
    MINOR after a scan that already failed with its own alarm) and returns
    False; it never raises (the scan's own end must still be published).
    """
    targets = start_positions(scan, mover.positions)
    if not targets:
        return True
    try:
        async with asyncio.timeout(deadline):
            await mover.set(targets, wait=True)
        return True
    except Exception as exc:
        reason = f"did not arrive within {deadline:g} s" if isinstance(exc, TimeoutError) else str(exc)
        names = ", ".join(f"{m} (start {v:g})" for m, v in targets.items())
        text = f"relative scan: could not return {names} to the start position: {reason}"
        log.error("%s", text)
        info = ErrorInfo(
            error_message=text,
            compact_error_message=text,
            exception_type="ReturnToStartError",
            device=list(targets) if len(targets) > 1 else next(iter(targets)),
        )
        try:
            await publish_alarm(connector, severity, info, metadata)
        except Exception as alarm_exc:  # Redis trouble: the log line above is all we can do
            log.error("could not publish the return-to-start alarm: %s", alarm_exc)
        return False
