"""Defect 2 of issue 11: a restarted device server must not execute instructions nobody waits for.

The device server is SIGKILLed in the middle of a point (its ``point`` entry stays
pending in the consumer group). If the scan server gave the scan up before the
device server comes back, the restarted device server answers that entry
"expired, not executed" and moves nothing; if it comes back in time, it picks
the point up and the scan completes.
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest
from faultkit import STREAM, FaultStack, pending_instructions
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceInstructionMessage, DeviceMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.system

DEADLINE = 30.0


async def kill_ds_mid_point(stack: FaultStack, client: AsyncRedisConnector, rec: Recorder, scan_id: str):
    """SIGKILL the device server while a point is in flight; return that point's instruction."""
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 2, "the first points")
    assert stack.ds is not None
    assert stack.ds.stop(signal.SIGKILL) == -signal.SIGKILL
    points: list[DeviceInstructionMessage] = []

    async def a_point_is_pending() -> bool:
        points[:] = [i for i in await pending_instructions(client) if i.action == "point"]
        return bool(points)

    assert await until(a_point_is_pending, DEADLINE), "no point instruction left pending by the kill"
    return points[0]


async def test_restarted_device_server_does_not_run_a_dead_scans_point(fault_stack: FaultStack, client):
    stack = fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"])
    rec = await Recorder(client).follow(
        **all_endpoints(), replies=MessageEndpoints.device_instructions_response()
    )
    msg = request("line_scan", {"samx": [-5, 5]}, steps=100, exp_time=0.3, relative=False)
    assert (await submit(client, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    point = await kill_ds_mid_point(stack, client, rec, scan_id)
    target = point.parameter["set"]["samx"]
    # the scan server notices the lapsed heartbeat and gives the scan up
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "the scan aborted", DEADLINE)
    await client.delete(MessageEndpoints.service_status("DeviceServer"))
    stack.start_ds()
    await wait_services(client, ["DeviceServer"], DEADLINE)
    instr_id = point.metadata["device_instr_id"]
    # the scan server withdrew the entry when it gave up; had that failed, the entry's deadline and
    # the scan's end would have it answered "expired" (tested below): either way it is not executed
    assert await until(lambda: no_pending(client), DEADLINE), stack.logs()
    await sentinel(client, rec)  # every reply the new process sent before it is in rec now
    answers = [r for r in rec.msgs["replies"] if r.instruction_id == instr_id]
    assert all(r.status == "error" and r.error_info.exception_type == "InstructionExpired" for r in answers)
    readback = await client.get(MessageEndpoints.device_readback("samx"))
    assert isinstance(readback, DeviceMessage)
    assert readback.metadata.get("scan_id") != scan_id
    assert abs(readback.signals["samx"]["value"] - target) > 0.5, "samx moved to the dead scan's point"
    assert "not executed" in (stack.tmp / "ds.log").read_text() or not answers


async def no_pending(client: AsyncRedisConnector) -> bool:
    return not (await client.redis.xpending(STREAM, "device_server"))["pending"]


async def sentinel(client: AsyncRedisConnector, rec: Recorder) -> None:
    """Send a read and wait for its reply: replies published before it have arrived too."""
    msg = instruction("bpm4i", "read")
    await client.xadd(MessageEndpoints.device_instructions(), {"data": msg})
    await rec.wait_for(
        lambda: any(r.instruction_id == msg.metadata["device_instr_id"] for r in rec.msgs["replies"]),
        "the sentinel's reply",
        DEADLINE,
    )


def instruction(
    device: str, action: str, parameter: dict | None = None, **metadata
) -> DeviceInstructionMessage:
    return DeviceInstructionMessage(
        device=device,
        action=action,
        parameter=parameter or {},
        metadata={"device_instr_id": str(uuid.uuid4()), **metadata},
    )


async def test_stale_entries_are_answered_expired_not_executed(fault_stack: FaultStack, client):
    """Entries a device server claims at start (or reads later) whose deadline passed or whose scan ended."""
    dead_scan = str(uuid.uuid4())
    await client.set(
        MessageEndpoints.public_scan_info(dead_scan),
        ScanStatusMessage(scan_id=dead_scan, status="aborted", info={}, reason="alarm"),
    )
    now = time.time()
    stale = {
        "deadline": instruction("samx", "set", {"value": 7.0}, expires_at=now - 20),
        "scan ended": instruction(
            "samx", "point", {"set": {"samx": 8.0}, "read": ["samx"]}, scan_id=dead_scan, expires_at=now + 600
        ),
    }
    for msg in stale.values():  # written before the device server starts: claimed at its start
        await client.xadd(MessageEndpoints.device_instructions(), {"data": msg})
    rec = await Recorder(client).follow(replies=MessageEndpoints.device_instructions_response())
    fault_stack.start_ds()
    await wait_services(client, ["DeviceServer"], DEADLINE)
    late = instruction("samx", "set", {"value": 9.0}, scan_id=dead_scan)  # arrives while it runs
    cleanup = instruction("samx", "stop", scan_id=dead_scan)  # clean-up of an ended scan still runs
    live = instruction("samy", "set", {"value": 1.5}, expires_at=time.time() + 600)
    for msg in (late, cleanup, live):
        await client.xadd(MessageEndpoints.device_instructions(), {"data": msg})
    ids = [m.metadata["device_instr_id"] for m in (*stale.values(), late, cleanup, live)]
    await rec.wait_for(
        lambda: {r.instruction_id for r in rec.msgs["replies"]} >= set(ids), "every reply", DEADLINE
    )
    replies = {r.instruction_id: r for r in rec.msgs["replies"]}
    for msg in (*stale.values(), late):
        reply = replies[msg.metadata["device_instr_id"]]
        assert reply.status == "error" and reply.error_info.exception_type == "InstructionExpired"
        assert "expired, not executed" in reply.error_info.error_message
    assert "deadline passed" in replies[ids[0]].error_info.error_message
    assert f"scan {dead_scan} has ended (aborted)" in replies[ids[1]].error_info.error_message
    assert replies[ids[3]].status == "completed" and replies[ids[4]].status == "completed"
    samx = await client.get(MessageEndpoints.device_readback("samx"))
    assert samx.signals["samx"]["value"] not in (7.0, 8.0, 9.0)
    assert (await client.get(MessageEndpoints.device_readback("samy"))).signals["samy"]["value"] == 1.5
    assert await no_pending(client)


async def test_device_server_back_in_time_picks_the_pending_point_up(fault_stack: FaultStack, client):
    # a heartbeat expiry longer than a device-server start: the scan server keeps waiting
    fault_stack.settings(timeouts={"heartbeat_interval": 1.0, "heartbeat_expiry": 30.0})
    stack = fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"])
    rec = await Recorder(client).follow(**all_endpoints())
    msg = request("line_scan", {"samx": [-5, 5]}, steps=20, exp_time=0.3, relative=False)
    assert (await submit(client, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await kill_ds_mid_point(stack, client, rec, scan_id)
    stack.start_ds()
    await rec.wait_for(
        lambda: "closed" in rec.statuses(scan_id) or "aborted" in rec.statuses(scan_id), "the scan's end", 60
    )
    assert rec.statuses(scan_id)[-1] == "closed", stack.logs()
    points = [s.point_id for s in rec.segments(scan_id)]
    assert sorted(points) == list(range(20))
