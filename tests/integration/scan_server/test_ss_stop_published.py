"""An abort, halt or restart shows in the queue status as soon as it is requested (as stock BEC's
set_abort / set_restart), not only once the scan's clean-up is over; the final scan status and the
queue history stay right (real processes)."""

from __future__ import annotations

from typing import Any

from ss_harness import Recorder, request, scan_id_of, submit

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage
from bec_core.redis_connector.base import MessageObject


class OrderedRecorder(Recorder):
    """A Recorder that also keeps one sequence of (endpoint name, message) in arrival order."""

    def __init__(self, conn: Any) -> None:
        super().__init__(conn)
        self.seq: list[tuple[str, Any]] = []

    async def _cb(self, msg: MessageObject, name: str) -> None:
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        self.seq += [(name, v) for v in values]
        await super()._cb(msg, name)


def entry_status(msg: Any, rid: str) -> str | None:
    for entry in msg.queue["primary"].info:
        if entry.request_blocks and entry.request_blocks[0].RID == rid:
            return entry.status
    return None


def seen_before_end(rec: OrderedRecorder, rid: str, scan_id: str, status: str) -> list[str]:
    """The item statuses the queue showed before the scan's ``status`` ScanStatusMessage."""
    out = []
    for name, msg in rec.seq:
        if name == "scan_status" and msg.scan_id == scan_id and msg.status == status:
            return out
        if name == "queue" and (s := entry_status(msg, rid)) is not None:
            out.append(s)
    raise AssertionError(f"no {status} status for {scan_id}")


async def modify(conn, action: str, **kwargs) -> None:
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action=action, parameter=kwargs.pop("parameter", {}), **kwargs),
    )


async def started(conn, rec) -> tuple[str, str]:
    msg = request("line_scan", {"samx": [-5, 5]}, steps=200, exp_time=0.01, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    rid = msg.metadata["RID"]
    scan_id = await scan_id_of(rec, rid)
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 2, "first points")
    return rid, scan_id


async def history_of(conn, scan_id: str) -> Any:
    """The queue-history entry of one scan (a restarted copy keeps the RID, not the scan id)."""
    for msg in await conn.lrange(MessageEndpoints.scan_queue_history(), 0, 10):
        if scan_id in msg.info.scan_id:
            return msg
    return None


async def test_abort_and_halt_show_stopped_before_the_scan_ends(conn):
    rec = await OrderedRecorder(conn).follow(
        queue=MessageEndpoints.scan_queue_status(),
        scan_status=MessageEndpoints.scan_status(),
        segment=MessageEndpoints.scan_segment(),
        response=MessageEndpoints.scan_queue_request_response(),
    )
    for action, final in (("abort", "aborted"), ("halt", "halted")):
        rid, scan_id = await started(conn, rec)
        await modify(conn, action)
        await rec.wait_for(lambda sid=scan_id, f=final: f in rec.statuses(sid), final)
        shown = seen_before_end(rec, rid, scan_id, final)
        assert shown[-1] == "STOPPED", (action, shown)
        end = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == final)
        assert end.reason == "user"
        await rec.wait_for(lambda r=rid: entry_status(rec.msgs["queue"][-1], r) is None, "item gone")
        history = await history_of(conn, scan_id)
        assert history is not None and history.status == "STOPPED"
    # the queue goes on: a later scan runs to its end
    msg = request("acquire")
    assert (await submit(conn, rec, msg)).accepted
    after = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(after), "the next scan closed")


async def test_restart_shows_stopped_before_the_original_ends(conn):
    rec = await OrderedRecorder(conn).follow(
        queue=MessageEndpoints.scan_queue_status(),
        scan_status=MessageEndpoints.scan_status(),
        segment=MessageEndpoints.scan_segment(),
        response=MessageEndpoints.scan_queue_request_response(),
    )
    msg = request("line_scan", {"samx": [-5, 5]}, steps=200, exp_time=0.01, relative=False)
    msg.allow_restart = True
    assert (await submit(conn, rec, msg)).accepted
    rid = msg.metadata["RID"]
    scan_id = await scan_id_of(rec, rid)
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 2, "first points")
    await modify(conn, "restart", request_id=rid, parameter={"position": "replace"})
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "the original aborted")
    before = seen_before_end(rec, rid, scan_id, "aborted")
    assert "STOPPED" in before, before
    # the copy runs to its end under a new scan id
    await rec.wait_for(
        lambda: any(m.scan_id != scan_id and m.status == "closed" for m in rec.msgs["scan_status"]),
        "the restarted copy closed",
        timeout=60,
    )
    history = await history_of(conn, scan_id)
    assert history is not None and history.status == "STOPPED"
