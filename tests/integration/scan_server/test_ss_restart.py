"""A queued request survives a scan-server restart; SIGTERM mid-scan halts it cleanly (exit 0);
a scan left open by a killed scan server is aborted at the restart."""

from __future__ import annotations

import signal

from bec_scan_server.store import PREFIX
from ss_harness import request, scan_id_of, scan_server, submit, wait_services

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage


async def restart_scan_server(stack, conn) -> None:
    assert stack["ss"].stop() == 0, stack["ss"].tail()
    await conn.delete(MessageEndpoints.service_status("ScanServer"))
    stack["ss"] = scan_server(stack["url"], stack["tmp"]).start()
    await wait_services(conn, ["ScanServer"])


async def test_queued_request_survives_restart(stack, conn, rec):
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action="pause", parameter={}, queue="primary"),
    )
    await rec.wait_for(
        lambda: rec.msgs["queue"] and rec.msgs["queue"][-1].queue["primary"].status == "PAUSED",
        "queue paused",
    )
    msg = request("line_scan", {"samx": [0, 1]}, steps=4, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    assert await conn.redis.llen(PREFIX + "primary") == 1
    await restart_scan_server(stack, conn)
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "the restored request ran")
    assert [s.point_id for s in rec.segments(scan_id)] == [0, 1, 2, 3]
    assert await conn.redis.llen(PREFIX + "primary") == 0


async def test_sigterm_mid_scan_halts_and_exits_0(stack, conn, rec):
    msg = request("line_scan", {"samx": [-5, 5]}, steps=300, exp_time=0.01, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 3, "first points")
    await restart_scan_server(stack, conn)  # asserts exit code 0
    halted = await rec.wait_for(
        lambda: next(
            (m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "halted"), None
        ),
        "halted",
    )
    assert halted.reason == "user" and halted.info["exit_note"] == "shutdown"
    staged = await conn.get(MessageEndpoints.device_staged("bpm4i"))
    assert staged is None or staged.status == 0
    follow = request("acquire")
    assert (await submit(conn, rec, follow)).accepted
    follow_id = await scan_id_of(rec, follow.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(follow_id), "the new server runs scans")


async def test_killed_scan_server_orphan_is_aborted_at_restart(stack, conn, rec):
    msg = request("line_scan", {"samx": [-5, 5]}, steps=300, exp_time=0.01, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    rid = msg.metadata["RID"]
    scan_id = await scan_id_of(rec, rid)
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 3, "first points")
    assert stack["ss"].stop(signal.SIGKILL) == -signal.SIGKILL
    # what a client sees now: the scan is still open, nobody will close it
    assert (await conn.get(MessageEndpoints.scan_status())).status == "open"
    await conn.delete(MessageEndpoints.service_status("ScanServer"))
    stack["ss"] = scan_server(stack["url"], stack["tmp"]).start()
    await wait_services(conn, ["ScanServer"])  # the orphan is closed before RUNNING
    aborted = await rec.wait_for(
        lambda: next(
            (m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "aborted"), None
        ),
        "the orphan aborted",
    )
    assert rec.statuses(scan_id) == ["open", "aborted"]
    assert aborted.reason == "alarm"
    assert aborted.info["exit_note"] == "scan server restarted"
    assert aborted.metadata["exit_note"] == "scan server restarted" and aborted.metadata["RID"] == rid
    # exact: the points the device server published for it after the kill count too
    assert 3 <= aborted.num_monitored_readouts == len(rec.segments(scan_id)) < 300
    assert (await conn.get(MessageEndpoints.public_scan_info(scan_id))).status == "aborted"
    alarm = next(a for a in rec.msgs["alarm"] if a.metadata.get("scan_id") == scan_id)
    assert alarm.severity == 2 and "scan server restarted" in alarm.info.compact_error_message
    # a stock client's report.wait() resolves on the queue history: the item is STOPPED there
    history = await conn.lrange(MessageEndpoints.scan_queue_history(), 0, 5)
    entry = next(h for h in history if h.info.scan_id == [scan_id])
    assert entry.status == "STOPPED" and entry.info.reason == "alarm"
    # the devices were unstaged and the new server runs scans
    staged = await conn.get(MessageEndpoints.device_staged("bpm4i"))
    assert staged is None or staged.status == 0
    follow = request("acquire")
    assert (await submit(conn, rec, follow)).accepted
    follow_id = await scan_id_of(rec, follow.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(follow_id), "the new server runs scans")
