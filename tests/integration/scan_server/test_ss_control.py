"""Pause, resume, abort, halt, user_completed; bad input; device errors (real processes)."""

from __future__ import annotations

from ss_harness import request, scan_id_of, submit

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage


def modification(action: str, **kwargs) -> ScanQueueModificationMessage:
    return ScanQueueModificationMessage(action=action, parameter=kwargs.pop("parameter", {}), **kwargs)


async def modify(conn, action: str, **kwargs) -> None:
    await conn.send(MessageEndpoints.scan_queue_modification_request(), modification(action, **kwargs))


def slow_scan():
    # 200 points of at least 10 ms each: long enough to steer, short if something goes wrong
    return request("line_scan", {"samx": [-5, 5]}, steps=200, exp_time=0.01, relative=False)


async def test_pause_resume_abort(conn, rec):
    msg = slow_scan()
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 3, "first points")
    await modify(conn, "pause")
    await rec.wait_for(lambda: "paused" in rec.statuses(scan_id), "paused status")
    held = len(rec.segments(scan_id))
    queue = await rec.wait_for(
        lambda: (q := rec.msgs["queue"][-1].queue["primary"]).status == "PAUSED" and q, "queue PAUSED"
    )
    assert queue.info[0].status == "PAUSED"
    await modify(conn, "resume")
    await rec.wait_for(lambda: rec.statuses(scan_id)[-1] == "open", "open again")
    await rec.wait_for(lambda: len(rec.segments(scan_id)) > held + 2, "points after resume")
    await modify(conn, "abort", scan_id=scan_id)
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "aborted")
    aborted = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "aborted")
    assert aborted.reason == "user"
    assert aborted.num_monitored_readouts == len(rec.segments(scan_id)) < 200
    ids = [s.point_id for s in rec.segments(scan_id)]
    assert ids == list(range(len(ids)))
    await rec.wait_for(lambda: rec.queue_entries(msg.metadata["RID"])[-1].status == "STOPPED", "item STOPPED")
    await rec.wait_for(lambda: not rec.msgs["queue"][-1].queue["primary"].info, "queue emptied")


async def test_an_aborted_scan_has_exactly_the_segments_its_end_counts(conn, rec):
    """Points sent ahead publish their own segments (device server): an abort withdraws the one in
    flight, and the end's count, the segments seen and the stored segments agree, also afterwards."""
    for after in (1, 2, 5, 8, 13):
        # 400 points of at least 5 ms: a loaded machine cannot finish the scan before the abort lands
        msg = request("line_scan", {"samx": [-5, 5]}, steps=400, exp_time=0.005, relative=False)
        assert (await submit(conn, rec, msg)).accepted
        scan_id = await scan_id_of(rec, msg.metadata["RID"])
        await rec.wait_for(lambda: len(rec.segments(scan_id)) >= after, f"{after} points")  # noqa: B023
        await modify(conn, "abort", scan_id=scan_id)
        final = await rec.wait_for(
            lambda: {"aborted", "closed", "halted"} & set(rec.statuses(scan_id)),  # noqa: B023
            f"the scan's end after an abort at {after} points",
        )
        assert final == {"aborted"}, f"abort at {after} points ended the scan as {final}"
        await rec.wait_for(lambda: not rec.msgs["queue"][-1].queue["primary"].info, "queue emptied")
        end = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "aborted")
        stored = await conn.keys(MessageEndpoints.public_scan_segment(scan_id))
        ids = [s.point_id for s in rec.segments(scan_id)]
        assert ids == list(range(len(ids)))
        assert end.num_monitored_readouts == len(ids) == len(stored) < 400
    # a scan after them runs whole: nothing withdrawn is left behind in the device server
    msg = request("line_scan", {"samx": [-5, 5]}, steps=5, exp_time=0, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "closed")
    assert [s.point_id for s in rec.segments(scan_id)] == list(range(5))


async def test_aborting_a_paused_scan_leaves_an_empty_queue_running(conn, rec):
    """As stock: a paused queue with nothing left to run goes back to RUNNING (e2e test_scan_abort)."""
    msg = slow_scan()
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 3, "first points")
    await modify(conn, "pause")
    await rec.wait_for(lambda: rec.msgs["queue"][-1].queue["primary"].status == "PAUSED", "queue PAUSED")
    await modify(conn, "abort", scan_id=scan_id)
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "aborted")
    await rec.wait_for(
        lambda: (q := rec.msgs["queue"][-1].queue["primary"]).status == "RUNNING" and not q.info,
        "queue RUNNING and empty",
    )


async def test_halt_and_user_completed(conn, rec):
    for action, expected in (("halt", "halted"), ("user_completed", "user_completed")):
        msg = slow_scan()
        assert (await submit(conn, rec, msg)).accepted
        scan_id = await scan_id_of(rec, msg.metadata["RID"])
        await rec.wait_for(lambda sid=scan_id: len(rec.segments(sid)) >= 2, "points")
        await modify(conn, action)
        await rec.wait_for(lambda sid=scan_id, e=expected: e in rec.statuses(sid), expected)


async def test_bad_requests_are_rejected_precisely(conn, rec):
    cases = [
        (request("no_such_scan"), "unknown scan type 'no_such_scan'"),
        (request("line_scan", {"nosuch": [0, 1]}, steps=3, relative=False), "nosuch: unknown device"),
        (
            request("line_scan", {"samx": [0, 1]}, steps=3, relative=False, monitored=["disabled_mon"]),
            "disabled_mon: device is disabled",
        ),
        (request("line_scan", {"samx": [0, 1]}, relative=False), "missing required argument(s): 'steps'"),
        (
            request("line_scan", {"samx": [0, 1]}, steps=3, relative=False, bogus=1),
            "unexpected keyword argument",
        ),
        (request("line_scan", {"samx": [0, 1]}, steps="3", relative=False), "must be an int"),
    ]
    for msg, text in cases:
        response = await submit(conn, rec, msg)
        assert not response.accepted
        assert text in response.message, (text, response.message)
    # malformed bytes: an alarm, and the server keeps going
    await conn.raw_send(MessageEndpoints.scan_queue_request("default").endpoint, b"\x93not msgpack at all")
    alarm = await rec.wait_for(lambda: rec.msgs["alarm"], "alarm for malformed bytes")
    assert "undecodable" in alarm[-1].info.compact_error_message
    # a modification for a scan that does not exist
    await modify(conn, "abort", scan_id="does-not-exist", metadata={"RID": "mod-1"})
    rejection = await rec.wait_for(lambda: rec.response("mod-1"), "modification rejection")
    assert not rejection.accepted and "does-not-exist" in rejection.message
    ok = request("acquire")
    assert (await submit(conn, rec, ok)).accepted
    scan_id = await scan_id_of(rec, ok.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "a good scan still runs")


async def test_device_error_aborts_with_alarm(conn, rec):
    msg = request("line_scan", {"samx": [0, 1]}, steps=3, relative=False, monitored=["failer"])
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "aborted")
    aborted = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "aborted")
    assert aborted.reason == "alarm" and "failer" in aborted.info["exit_note"]
    alarm = next(a for a in rec.msgs["alarm"] if a.metadata.get("scan_id") == scan_id)
    assert alarm.severity == 2 and "failer" in str(alarm.info.device)
    after = request("acquire")
    assert (await submit(conn, rec, after)).accepted
    after_id = await scan_id_of(rec, after.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(after_id), "the queue moved on")


async def test_point_sent_ahead_of_a_failing_one_never_moves(conn, rec):
    """The second point goes out while the first runs; the first fails on its read, so the device
    server does not execute the second: it answers "not executed" (the point before it failed) or,
    if the scan's clean-up stop reaches it first, "cancelled" (its scan is being stopped). Either
    way it expires unexecuted and no segment is published."""
    replies = []
    await conn.register(MessageEndpoints.device_instructions_response(), lambda m: replies.append(m.value))
    msg = request("line_scan", {"samx": [0, 1]}, steps=3, relative=False, monitored=["failer"])
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "aborted")

    def points():
        return {
            r.instruction.metadata.get("point_id"): r
            for r in replies
            if r.instruction.action == "point"
            and r.metadata.get("scan_id") == scan_id
            and r.status != "running"
        }

    answered = await rec.wait_for(lambda: len(points()) == 2 and points(), "both points answered")
    assert answered[0].status == "error" and "failer" in answered[0].error_info.compact_error_message
    second = answered[1]
    assert second.instruction.metadata["after"] == answered[0].instruction_id
    assert second.status == "error" and second.error_info.exception_type == "InstructionExpired"
    why = second.error_info.compact_error_message
    assert (
        "not executed: the instruction before it" in why or "cancelled: its scan is being stopped" in why
    ), why
    assert rec.segments(scan_id) == []


async def test_limit_violations_are_limit_error_alarms(conn, rec):
    """As stock BEC (e2e test_limit_error, test_mv_raises_limit_error): accepted, then a LimitError alarm."""
    cases = [
        (request("line_scan", {"samx": [-520, 5]}, steps=200, exp_time=0.1, relative=False), "-520"),
        (request("umv", {"samx": [500]}, relative=False), "500"),
        (request("mv", {"samx": [1000]}, relative=False), "1000"),
        (request("line_scan", {"samx": [0, 60]}, steps=3, relative=True), "60"),
    ]
    before = await conn.get(MessageEndpoints.device_readback("samx"))
    for msg, target in cases:
        rid = msg.metadata["RID"]
        response = await submit(conn, rec, msg)
        assert response.accepted, response.message
        alarm = await rec.wait_for(
            lambda r=rid: next((a for a in rec.msgs["alarm"] if a.metadata.get("RID") == r), None),
            f"LimitError alarm for {msg.scan_type}",
        )
        assert alarm.severity == 2 and alarm.info.exception_type == "LimitError", alarm.info
        assert alarm.info.device == "samx"
        assert f"samx: target {target}" in alarm.info.compact_error_message
        assert "outside limits [-50, 50]" in alarm.info.compact_error_message
    scan_id = await scan_id_of(rec, cases[0][0].metadata["RID"])
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "the scan ends aborted")
    assert "open" not in rec.statuses(scan_id)
    after = await conn.get(MessageEndpoints.device_readback("samx"))
    assert after.signals["samx"]["value"] == before.signals["samx"]["value"]  # nothing moved


async def test_a_scan_of_short_points_sent_several_per_instruction_pauses_and_resumes_whole(conn, rec):
    """Instant points travel several per instruction: a pause still holds the scan between
    instructions (no segment arrives while paused), and after the resume every point arrives once,
    in order."""
    msg = request("line_scan", {"samx": [-5, 5]}, steps=3000, exp_time=0, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 50, "first points")
    await modify(conn, "pause")
    # "paused" goes out once the instructions in flight are answered, after their segments (one
    # subscriber connection: in publication order): what has arrived then is all there is
    held = await rec.wait_for(
        lambda: "paused" in rec.statuses(scan_id) and len(rec.segments(scan_id)), "paused status"
    )
    assert held < 3000
    await rec.wait_for(lambda: rec.msgs["queue"][-1].queue["primary"].status == "PAUSED", "queue PAUSED")
    assert len(rec.segments(scan_id)) == held  # nothing was published while paused
    await modify(conn, "resume")
    await rec.wait_for(lambda: rec.statuses(scan_id)[-1] == "open", "open again")
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "closed", timeout=120)
    ids = [s.point_id for s in rec.segments(scan_id)]
    assert ids == list(range(3000))
    closed = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "closed")
    assert closed.num_monitored_readouts == 3000
