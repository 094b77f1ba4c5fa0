"""Scans end to end: scan server and device server as processes, a client following Redis."""

from __future__ import annotations

import uuid

from ss_harness import request, scan_id_of, submit

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage
from bec_core.serialization import loads_message


async def test_line_scan_end_to_end(conn, rec):
    msg = request("line_scan", {"samx": [-5, 5]}, steps=10, exp_time=0, relative=False)
    response = await submit(conn, rec, msg)
    assert response.accepted, response.message
    rid = msg.metadata["RID"]
    scan_id = await scan_id_of(rec, rid)
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "scan closed")
    assert rec.statuses(scan_id) == ["open", "closed"]

    opened = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id)
    assert opened.scan_name == "line_scan" and opened.scan_type == "software_triggered"
    assert opened.num_points == 10 and opened.num_monitored_readouts == 10
    assert opened.scan_report_devices == ["samx"]
    assert "samx" in opened.readout_priority["monitored"] and "samy" in opened.readout_priority["baseline"]
    assert opened.request_inputs["arg_bundle"] == ["samx", -5.0, 5.0]
    assert opened.info["scan_report_instructions"] == [{"scan_progress": {"points": 10, "show_table": True}}]
    assert len(opened.info["positions"]) == 10 and opened.metadata["RID"] == rid
    assert opened.scan_number is not None and opened.dataset_number is not None

    segments = rec.segments(scan_id)
    assert [s.point_id for s in segments] == list(range(10))
    first = segments[0]
    assert set(first.data) >= {"samx", "bpm4i", "bpm4a", "bpm3i", "diode"}
    assert abs(first.data["samx"]["samx"]["value"] - (-5)) < 0.05
    assert first.metadata["scan_report_devices"] == ["samx"]

    baseline = await rec.wait_for(
        lambda: next((b for b in rec.msgs["baseline"] if b.scan_id == scan_id), None), "baseline"
    )
    assert "samy" in baseline.data
    progress = [p for p in rec.msgs["progress"] if p.metadata.get("scan_id") == scan_id]
    assert progress[-1].done and progress[-1].value == 10

    entries = await rec.wait_for(
        lambda: (e := rec.queue_entries(rid)) and e[-1].status == "COMPLETED" and e, "COMPLETED in queue"
    )
    assert entries[0].status in ("PENDING", "RUNNING")
    assert entries[-1].scan_number == [opened.scan_number]
    # the last queue status no longer holds the item
    await rec.wait_for(lambda: not rec.msgs["queue"][-1].queue["primary"].info, "queue emptied")
    history = await conn.lrange(MessageEndpoints.scan_queue_history(), 0, 5)
    assert history[0].queue_id == entries[-1].queue_id and history[0].status == "COMPLETED"
    stored = await conn.get(MessageEndpoints.public_scan_segment(scan_id, 9))
    assert stored.point_id == 9
    info = await conn.get(MessageEndpoints.public_scan_info(scan_id))
    assert info.status == "closed"
    assert (await conn.redis.ttl(MessageEndpoints.public_scan_info(scan_id).endpoint)) > 0


async def test_scan_numbers_increase(conn, rec):
    numbers = []
    for _ in range(2):
        msg = request("acquire", exp_time=0)
        assert (await submit(conn, rec, msg)).accepted
        scan_id = await scan_id_of(rec, msg.metadata["RID"])
        closed = await rec.wait_for(
            lambda sid=scan_id: next(
                (m for m in rec.msgs["scan_status"] if m.scan_id == sid and m.status == "closed"), None
            ),
            "closed",
        )
        numbers.append(closed.scan_number)
    assert numbers[1] == numbers[0] + 1
    assert (await conn.get(MessageEndpoints.scan_number())).value == numbers[1]  # no account: plain


async def test_grid_relative_and_other_scans(conn, rec):
    cases = [
        (request("grid_scan", {"samx": [-1, 1, 3], "samy": [-1, 1, 2]}, relative=True), 6),
        (request("list_scan", {"samx": [[0, 1, 2]]}, relative=False), 3),
        (request("fermat_scan", ["samx", -1, 1, "samy", -1, 1], step=0.5, relative=False), None),
        (request("round_scan", ["samx", "samy", 0, 1, 2, 3], relative=True), 9),
        (request("time_scan", [3, 0.01]), 3),
        (request("acquire", burst_at_each_point=2), 2),
    ]
    for msg, _ in cases:
        assert (await submit(conn, rec, msg)).accepted, msg.scan_type
    for msg, points in cases:
        scan_id = await scan_id_of(rec, msg.metadata["RID"])
        await rec.wait_for(lambda sid=scan_id: "closed" in rec.statuses(sid), f"{msg.scan_type} closed")
        ids = [s.point_id for s in rec.segments(scan_id)]
        assert ids == list(range(len(ids))) and ids, msg.scan_type
        if points is not None:
            assert len(ids) == points, msg.scan_type


async def test_cont_line_scan_reads_while_moving(conn, rec):
    msg = request("cont_line_scan", ["samx", 0, 2], steps=5, exp_time=0.001, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "cont_line_scan closed")
    segments = rec.segments(scan_id)
    assert segments and [s.point_id for s in segments] == list(range(len(segments)))
    assert "bpm4i" in segments[0].data and "samx" in segments[-1].data


async def test_umv_mv_and_rpc(conn, rec):
    msg = request("umv", {"samy": [2.5]}, relative=False)
    rid = msg.metadata["RID"]
    assert (await submit(conn, rec, msg)).accepted
    entries = await rec.wait_for(
        lambda: (e := rec.queue_entries(rid)) and e[-1].status == "COMPLETED" and e, "umv completed"
    )
    assert entries[0].is_scan == [False]
    report = [
        e.request_blocks[0].report_instructions for e in entries if e.request_blocks[0].report_instructions
    ]
    assert report and report[-1][0]["readback"]["devices"] == ["samy"]
    assert report[-1][0]["readback"]["end"] == [2.5]
    status = await conn.get_last(MessageEndpoints.device_req_status(rid))
    assert status.success and status.device == "samy"

    rpc_id = str(uuid.uuid4())
    rpc = request("device_rpc", device="samy", func="read", func_args=[], func_kwargs={}, rpc_id=rpc_id)
    await rec.follow(replies=MessageEndpoints.device_instructions_response())
    assert (await submit(conn, rec, rpc)).accepted
    rpc_rid = rpc.metadata["RID"]
    await rec.wait_for(
        lambda: any(
            r.instruction.metadata.get("RID") == rpc_rid and r.status == "completed"
            for r in rec.msgs["replies"]
        ),
        "the rpc reply",
    )
    result = await conn.get(MessageEndpoints.device_rpc(rpc_id))
    assert result.success and abs(result.return_val["samy"]["value"] - 2.5) < 0.05


async def test_queue_order_and_cancel_pending(conn, rec):
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action="pause", parameter={}, queue="primary"),
    )
    a = request("acquire")
    b = request("acquire")
    for m in (a, b):
        assert (await submit(conn, rec, m)).accepted
    sid_a, sid_b = await scan_id_of(rec, a.metadata["RID"]), await scan_id_of(rec, b.metadata["RID"])
    from bec_core.messages import ScanQueueOrderMessage

    await conn.send(
        MessageEndpoints.scan_queue_order_change_request(),
        ScanQueueOrderMessage(scan_id=sid_b, action="move_top", metadata={"RID": "o1"}),
    )
    answer = await rec.wait_for(
        lambda: next((m for m in rec.msgs["order"] if m.metadata.get("RID") == "o1"), None), "order response"
    )
    assert answer.accepted
    info = rec.msgs["queue"][-1].queue["primary"].info
    assert [e.scan_id[0] for e in info] == [sid_b, sid_a]
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(scan_id=sid_a, action="abort", parameter={}, queue="primary"),
    )
    await rec.wait_for(
        lambda: [e.scan_id[0] for e in rec.msgs["queue"][-1].queue["primary"].info] == [sid_b],
        "pending scan cancelled",
    )
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action="continue", parameter={}, queue="primary"),
    )
    await rec.wait_for(lambda: "closed" in rec.statuses(sid_b), "remaining scan ran")
    assert rec.statuses(sid_a) == []


async def test_mv_on_a_named_queue_and_lock(conn, rec):
    msg = request("mv", {"samx": [1.0], "samy": [-1.0]}, relative=False, queue="second")
    rid = msg.metadata["RID"]
    await rec.follow_stream("req_status", MessageEndpoints.device_req_status(rid))
    assert (await submit(conn, rec, msg)).accepted
    statuses = await rec.wait_for(
        lambda: len(rec.msgs["req_status"]) >= 2 and rec.msgs["req_status"], "req_status of both motors"
    )
    assert {s.device for s in statuses} == {"samx", "samy"} and all(s.success for s in statuses)
    assert "second" in rec.msgs["queue"][-1].queue

    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action="lock", parameter={"identifier": "beam"}, queue="primary"),
    )
    locked = request("acquire")
    assert (await submit(conn, rec, locked)).accepted
    scan_id = await scan_id_of(rec, locked.metadata["RID"])
    await rec.wait_for(lambda: rec.msgs["queue"][-1].queue["primary"].status == "LOCKED", "LOCKED")
    assert rec.statuses(scan_id) == []
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(
            action="release_lock", parameter={"identifier": "beam"}, queue="primary"
        ),
    )
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "scan ran after the lock was released")


async def test_complete_after_the_last_point_before_unstage(conn, rec):
    await rec.follow(replies=MessageEndpoints.device_instructions_response())
    msg = request("line_scan", {"samx": [0, 1]}, steps=4, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    closed = await rec.wait_for(
        lambda: next(
            (m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "closed"), None
        ),
        "scan closed",
    )
    entries = await conn.xrange(MessageEndpoints.device_instructions())
    ours = [e["data"] for e in entries if e["data"].metadata.get("scan_id") == scan_id]
    actions = [i.action for i in ours]
    complete = next(i for i in ours if i.action == "complete")
    # BEC's post_scan order: the points, then complete, then unstage
    assert actions.index("complete") > max(n for n, a in enumerate(actions) if a == "point")
    assert actions.index("complete") < actions.index("unstage")
    groups = closed.readout_priority
    assert sorted(complete.device) == sorted(groups["monitored"] + groups["async"])
    assert complete.metadata["timeout"] == ServiceSettings().timeouts.device_action
    reply = await rec.wait_for(
        lambda: next(
            (r for r in rec.msgs["replies"] if r.instruction_id == complete.metadata["device_instr_id"]), None
        ),
        "the complete reply",
    )
    assert reply.status == "completed"


async def _point_instructions(conn, scan_id):
    """The ``point`` instructions of a scan, as the device server received them."""
    entries = await conn.redis.xrange(MessageEndpoints.device_instructions().endpoint)
    found = []
    for _, fields in entries:
        instr = loads_message(fields[b"data"], "internal/devices/instructions")
        if instr.action == "point" and instr.metadata.get("scan_id") == scan_id:
            found.append(instr)
    return found


async def test_short_points_go_several_per_instruction_and_arrive_one_by_one_in_order(conn, rec):
    """An instant motor, no exposure: after the first measured points, several points travel in
    one instruction; every point still arrives as its own segment, in order, at its position."""
    msg = request("line_scan", {"samx": [0, 2.99]}, steps=300, exp_time=0, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "scan closed")
    segments = rec.segments(scan_id)
    assert [s.point_id for s in segments] == list(range(300))
    assert [round(s.data["samx"]["samx"]["value"] * 100) for s in segments] == list(range(300))
    progress = [p for p in rec.msgs["progress"] if p.metadata.get("scan_id") == scan_id]
    assert progress[-1].done and progress[-1].value == 300
    assert [p.value for p in progress] == sorted(p.value for p in progress)
    closed = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "closed")
    assert closed.num_monitored_readouts == 300
    instructions = await _point_instructions(conn, scan_id)
    sizes = [len(i.parameter.get("points", [None])) for i in instructions]
    assert sum(sizes) == 300
    assert max(sizes) > 1 and len(instructions) < 300
    assert max(sizes) <= ServiceSettings().scan_server.points_per_instruction
    firsts = [i.metadata["point_id"] for i in instructions]
    assert firsts == [sum(sizes[:n]) for n in range(len(sizes))]  # consecutive, none twice


async def test_points_with_an_exposure_beyond_the_budget_go_one_per_instruction(conn, rec):
    budget = ServiceSettings().scan_server.batch_budget_s
    msg = request("line_scan", {"samx": [0, 1]}, steps=8, exp_time=budget * 2, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "scan closed")
    assert [s.point_id for s in rec.segments(scan_id)] == list(range(8))
    instructions = await _point_instructions(conn, scan_id)
    assert len(instructions) == 8 and not any("points" in i.parameter for i in instructions)
