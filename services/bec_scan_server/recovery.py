"""Start-up recovery: a scan that a previous scan server left ``open`` or ``paused``.

A scan server that is killed mid-scan (SIGKILL, OOM, power) cannot publish the
scan's end, so ``info/scans/scan_status`` keeps saying ``open`` (or
``paused``) and every client waiting on the scan waits forever. There is one
scan server per Redis, so at start no process runs such a scan: it is
published ``aborted`` (reason ``alarm``, ``exit_note`` "scan server
restarted") with a MAJOR alarm, its queue item goes to the history as
``STOPPED`` (what a stock client's ``report.wait()`` resolves on), and its
devices are stopped and unstaged (best effort, short deadline).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    ProgressMessage,
    ScanQueueHistoryMessage,
    ScanQueueStatusMessage,
    ScanStatusMessage,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_scan_server.context import AHEAD
from bec_scan_server.instructions import InstructionClient
from bec_scan_server.publisher import (
    MAJOR,
    error_info,
    publish_alarm,
    publish_scan_status,
    withdraw_points,
)

log = logging.getLogger(__name__)

NOTE = "scan server restarted"
#: deadline of the clean-up instructions for an orphaned scan's devices
CLEANUP_TIMEOUT = 5.0
ACTIVE = ("open", "paused")
FINAL_ITEMS = ("PENDING", "COMPLETED", "STOPPED", "CANCELLED")


async def _get(connector: AsyncRedisConnector, endpoint: Any) -> Any:
    try:
        return await connector.get(endpoint)
    except Exception as exc:  # undecodable: treat as absent, say so
        log.warning("cannot read %s: %s", endpoint.endpoint, exc)
        return None


async def recover_orphaned_scan(
    connector: AsyncRedisConnector,
    instructions: InstructionClient,
    expiry_s: int,
    history_max: int,
) -> ScanStatusMessage | None:
    """Close a scan left open by a previous process; returns the ``aborted`` status published, if any."""
    last = await _get(connector, MessageEndpoints.scan_status())
    if not isinstance(last, ScanStatusMessage) or last.status not in ACTIVE or not last.scan_id:
        return None
    scan_id = last.scan_id
    progress = await _get(connector, MessageEndpoints.scan_progress())
    readouts = 0
    if isinstance(progress, ProgressMessage) and progress.metadata.get("scan_id") == scan_id:
        readouts = int(progress.value)
    # points sent ahead publish their own segments (ADR 0001) and may be ahead of the progress:
    # they count, and any still in flight in the device server is stopped from publishing
    ahead = [readouts + i for i in range(AHEAD + 2)]
    for published in await withdraw_points(connector, str(scan_id), ahead, expiry_s):
        if not published:
            break
        readouts += 1
    text = (
        f"scan {last.scan_number} ({scan_id}) was still {last.status} when the scan server started: "
        f"the previous scan server ended without closing it ({NOTE}); it is marked aborted"
    )
    log.error("%s", text)
    aborted = last.model_copy(
        update={
            "status": "aborted",
            "reason": "alarm",
            "num_monitored_readouts": readouts,
            "info": {**last.info, "num_monitored_readouts": readouts, "exit_note": NOTE},
            "metadata": {**last.metadata, "exit_note": NOTE},
            "timestamp": time.time(),
        }
    )
    rid = last.metadata.get("RID") or last.info.get("RID")
    done = ProgressMessage(
        value=readouts,
        max_value=float(last.num_monitored_readouts or readouts),
        done=True,
        metadata={"scan_id": scan_id, "RID": rid, "status": "aborted"},
    )
    info = error_info(text)
    info = info.model_copy(update={"compact_error_message": f"scan {last.scan_number}: {NOTE}, scan aborted"})
    pipe = connector.pipeline()
    await publish_scan_status(connector, aborted, expiry_s, pipe=pipe)
    await connector.set_and_publish(MessageEndpoints.scan_progress(), done, pipe=pipe)
    await publish_alarm(connector, MAJOR, info, {"scan_id": scan_id, "RID": rid}, pipe=pipe)
    await _stop_items(connector, scan_id, history_max, pipe)
    await pipe.execute()
    await _cleanup_devices(instructions, last, rid)
    return aborted


async def _stop_items(connector: AsyncRedisConnector, scan_id: str, history_max: int, pipe: Any) -> None:
    """Put the orphan's queue item (from the stale queue status) into the history as STOPPED."""
    stale = await _get(connector, MessageEndpoints.scan_queue_status())
    if not isinstance(stale, ScanQueueStatusMessage):
        return
    for name, queue in stale.queue.items():
        for entry in queue.info:
            if scan_id not in entry.scan_id or entry.status in FINAL_ITEMS:
                continue
            stopped = entry.model_copy(
                update={"status": "STOPPED", "reason": "alarm", "active_request_block": None}
            )
            await connector.lpush(
                MessageEndpoints.scan_queue_history(),
                ScanQueueHistoryMessage(status="STOPPED", queue_id=entry.queue_id, info=stopped, queue=name),
                max_size=history_max,
                pipe=pipe,
            )


async def _cleanup_devices(instructions: InstructionClient, last: ScanStatusMessage, rid: Any) -> None:
    """Stop all devices and unstage the orphan's staged ones; never raises."""
    if not instructions.liveness.alive:
        log.warning("device server not running: the devices of the orphaned scan are not unstaged")
        return
    groups = last.readout_priority or {}
    staged = [d for g in ("monitored", "baseline", "async") for d in groups.get(g, [])]  # type: ignore[call-overload]
    meta = {"RID": rid or "", "scan_id": last.scan_id, "cleanup": True}
    steps: list[tuple[str, Any]] = [("stop", None)] + ([("unstage", staged)] if staged else [])
    for action, devices in steps:
        try:
            await instructions.call(devices, action, {}, meta, timeout=CLEANUP_TIMEOUT)
        except Exception as exc:
            log.error("clean-up %s of the orphaned scan failed: %s", action, exc)
