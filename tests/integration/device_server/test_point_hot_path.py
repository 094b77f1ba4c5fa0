"""The ``point`` action end to end, and the finishing command's recovery paths."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from dshelpers import DEADLINE, Requester

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

STREAM = MessageEndpoints.device_instructions().endpoint
POINT = {
    "set": {"samx": 1.5},
    "settling_time": 0.0,
    "trigger": ["bpm4i"],
    "min_wait": 0.0,
    "settling_time_after_trigger": 0.0,
    "read": ["samx", "bpm4i", "bpm3i"],
}


async def test_point_moves_triggers_reads_and_publishes(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    meta = {"scan_id": "s1", "point_id": 7, "RID": "r1", "readout_priority": "monitored"}
    async with (
        conn.subscribe(MessageEndpoints.device_read("bpm3i")) as reads,
        conn.subscribe(MessageEndpoints.device_readback("samx")) as readbacks,
    ):
        reply = await requester.request(["bpm3i", "bpm4i", "samx"], "point", POINT, **meta)
        published = (await reads.get(timeout=DEADLINE)).value
        readback = (await readbacks.get(timeout=DEADLINE)).value
    assert reply.status == "completed", reply.error_info
    assert list(reply.result) == ["samx", "bpm4i", "bpm3i"]
    assert reply.result["samx"]["samx"]["value"] == 1.5
    assert reply.instruction.action == "point" and reply.instruction.parameter == POINT
    assert reply.metadata["point_id"] == 7 == reply.instruction.metadata["point_id"]
    assert isinstance(published, messages.DeviceMessage)
    assert published.signals == reply.result["bpm3i"]
    assert {k: published.metadata[k] for k in meta} == meta
    assert published.metadata["device_instr_id"] == reply.instruction_id
    assert readback.signals["samx"]["value"] == 1.5
    for name in ("samx", "bpm4i", "bpm3i"):  # SET as well as PUBLISH, on read and readback
        read = await conn.get(MessageEndpoints.device_read(name))
        assert read.signals == reply.result[name] and read.metadata["point_id"] == 7
        assert (await conn.get(MessageEndpoints.device_readback(name))).signals == reply.result[name]
    assert (await conn.redis.xpending(STREAM, "device_server"))["pending"] == 0


async def test_points_keep_their_order_and_repeat_replies(start_server: Any, requester: Requester) -> None:
    await start_server()
    ids = [
        await requester.send(["samx", "bpm4i"], "point", {**POINT, "set": {"samx": float(i)}}, point_id=i)
        for i in range(20)
    ]
    replies = [await requester.reply(i) for i in ids]
    assert [r.result["samx"]["samx"]["value"] for r in replies] == [float(i) for i in range(20)]
    requester.replies.pop(ids[3])
    again = await requester.request(["samx"], "point", {"set": {"samx": 99.0}}, device_instr_id=ids[3])
    assert again.result == replies[3].result  # redelivered: the first reply again, not executed


async def test_finish_survives_script_flush_and_a_killed_connection(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await start_server()
    assert (await requester.request(["samx"], "point", POINT)).status == "completed"
    await conn.redis.script_flush()  # e.g. Redis restarted: EVALSHA answers NOSCRIPT
    assert (await requester.request(["samx"], "point", POINT)).status == "completed"
    finisher = srv.instructions.finisher
    assert finisher is not None and finisher._conn is not None
    await finisher._conn.send_command("CLIENT", "ID")  # the server is idle: borrow its connection
    own_id = await finisher._conn.read_response()
    await conn.redis.execute_command("CLIENT", "KILL", "ID", own_id)
    with caplog.at_level(logging.INFO, logger="bec_device_server.publish"):
        for i in range(3):
            reply = await asyncio.wait_for(
                requester.request(["samx"], "point", {"set": {"samx": float(i)}, "read": ["samx"]}),
                DEADLINE,
            )
            assert reply.status == "completed" and reply.result["samx"]["samx"]["value"] == float(i)
    assert "finishing connection lost" in caplog.text  # answered through the pool instead
    assert (await conn.redis.xpending(STREAM, "device_server"))["pending"] == 0


async def test_point_sent_ahead_is_not_executed_after_a_failed_one(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """``metadata["after"]``: the point behind a failed one is answered "not executed"; no motion."""
    await start_server()
    assert (await requester.request(["samx"], "point", {"set": {"samx": 2.0}, "read": ["samx"]})).status == (
        "completed"
    )
    failing = await requester.send(["samx"], "point", {"set": {"samx": 500.0}, "read": ["samx"]})  # limits
    behind = await requester.send(["samx"], "point", {"set": {"samx": 3.0}, "read": ["samx"]}, after=failing)
    first, second = await requester.reply(failing), await requester.reply(behind)
    assert first.status == "error"
    assert second.status == "error" and second.error_info is not None
    assert second.error_info.exception_type == "InstructionExpired"
    assert (
        f"the instruction before it ({failing}) did not complete" in second.error_info.compact_error_message
    )
    readback = await conn.get(MessageEndpoints.device_readback("samx"))
    assert readback.signals["samx"]["value"] == 2.0  # neither point moved samx
    assert (await conn.redis.xpending(STREAM, "device_server"))["pending"] == 0


async def test_points_sent_ahead_run_in_order_and_unknown_predecessors_do_not_block(
    start_server: Any, requester: Requester
) -> None:
    """A chain of points each naming the one before runs in order; an ``after`` this server has never
    seen (answered by an earlier process, or withdrawn) does not hold a point up."""
    await start_server()
    previous = "an-id-nobody-sent"
    ids = []
    for i in range(10):
        previous = await requester.send(
            ["samx"], "point", {"set": {"samx": float(i)}, "read": ["samx"]}, point_id=i, after=previous
        )
        ids.append(previous)
    replies = [await requester.reply(i) for i in ids]
    assert [r.status for r in replies] == ["completed"] * 10
    assert [r.result["samx"]["samx"]["value"] for r in replies] == [float(i) for i in range(10)]
    finished = [r.instruction_id for r in requester.all if r.status == "completed"]
    assert finished[-10:] == ids  # replies published in the order the points were sent


def _segment(scan_id: str, point_id: int) -> dict[str, Any]:
    """A ``segment`` spec as the scan server's publisher makes it."""
    return {
        "scan_id": scan_id,
        "point_id": point_id,
        "metadata": {"scan_id": scan_id, "scan_type": "step"},
        "key": MessageEndpoints.public_scan_segment(scan_id, point_id).endpoint,
        "expire": 600,
        "guard": f"internal/scan_server/withdrawn/{scan_id}/{point_id}",
        "forget": "",
    }


def _points(scan_id: str, targets: list[float], first: int = 0) -> dict[str, Any]:
    return {
        **{k: v for k, v in POINT.items() if k != "set"},
        "points": [
            {"set": {"samx": x}, "segment": _segment(scan_id, first + n)} for n, x in enumerate(targets)
        ],
    }


async def test_several_points_publish_each_segment_in_order_then_one_reply(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """``points``: each point moves, reads and publishes its own segment (and readings with its own
    point_id), in order; the one reply comes after the last segment."""
    await start_server()
    targets = [0.5 * n for n in range(6)]
    async with (
        conn.subscribe(MessageEndpoints.scan_segment()) as segments,
        conn.subscribe(MessageEndpoints.device_read("bpm3i")) as reads,
    ):
        reply = await requester.request(
            ["bpm3i", "bpm4i", "samx"], "point", _points("multi", targets), scan_id="multi", point_id=0
        )
        seen = [(await segments.get(timeout=DEADLINE)).value for _ in targets]
        read_meta = [(await reads.get(timeout=DEADLINE)).value.metadata for _ in targets]
        order = [r.instruction_id for r in requester.all]
    assert reply.status == "completed", reply.error_info
    assert reply.result is None
    assert [s.point_id for s in seen] == list(range(6))
    assert [s.data["samx"]["samx"]["value"] for s in seen] == targets
    assert all(set(s.data) == {"samx", "bpm4i", "bpm3i"} for s in seen)
    assert [m["point_id"] for m in read_meta] == list(range(6))
    assert order.count(reply.instruction_id) == 1
    stored = await conn.get(MessageEndpoints.public_scan_segment("multi", 5))
    assert stored.data == seen[5].data
    assert (await conn.redis.xpending(STREAM, "device_server"))["pending"] == 0


async def test_a_failed_point_of_several_ends_the_instruction_and_no_later_point_moves(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """The points before the failed one are published; the failed one and those after it are not,
    and nothing after it moves."""
    await start_server()
    reply = await requester.request(
        ["bpm3i", "bpm4i", "samx"], "point", _points("fail", [1.0, 2.0, 500.0, 3.0]), scan_id="fail"
    )
    assert reply.status == "error" and reply.error_info is not None
    assert "samx" in reply.error_info.compact_error_message
    for point_id in (0, 1):
        assert (await conn.get(MessageEndpoints.public_scan_segment("fail", point_id))) is not None
    for point_id in (2, 3):
        assert (await conn.get(MessageEndpoints.public_scan_segment("fail", point_id))) is None
    readback = await conn.get(MessageEndpoints.device_readback("samx"))
    assert readback.signals["samx"]["value"] == 2.0  # the fourth point never moved samx


@pytest.mark.parametrize(
    "parameter, expected",
    [
        ({"points": [], "read": ["samx"]}, "non-empty list"),
        ({"points": "samx", "read": ["samx"]}, "non-empty list"),
        ({"points": [{"set": {"samx": 1.0}}], "read": ["samx"]}, "points[0]"),
        ({"points": [{"set": 1.0, "segment": {}}], "read": ["samx"]}, "points[0]"),
        ({"points": [{"set": {}, "segment": {"point_id": 1}}], "read": ["samx"]}, "segment field"),
        ({"set": {"samx": 1.0}, "points": [{"set": {}, "segment": {}}]}, "not both"),
    ],
)
async def test_malformed_points_are_refused_naming_what_is_wrong(
    start_server: Any, requester: Requester, parameter: dict, expected: str
) -> None:
    await start_server()
    reply = await requester.request(["samx"], "point", parameter)
    assert reply.status == "error" and reply.error_info is not None
    assert expected in reply.error_info.compact_error_message
    assert (await requester.request(["samx"], "point", {"set": {"samx": 0.25}, "read": ["samx"]})).status == (
        "completed"
    )  # and the server goes on


async def test_one_finishing_command_publishes_several_segments_in_order_honouring_each_guard(
    conn: AsyncRedisConnector,
) -> None:
    """FINISH_SCRIPT with three segments (points of one instruction written together): each is
    stored and published once, in order, except the one whose guard is set (withdrawn)."""
    from bec_device_server.publish import FINISH_SCRIPT, Readings, Segment

    readings = Readings()
    for point_id in range(3):
        readings.add("samx", {"samx": {"value": float(point_id), "timestamp": 1.0}}, {"point_id": point_id})
        readings.segment(Segment.parse(_segment("lua", point_id)))
    await conn.redis.set(_segment("lua", 1)["guard"], 1)
    async with conn.subscribe(MessageEndpoints.scan_segment()) as segments:
        assert await conn.redis.eval(FINISH_SCRIPT, 0, *readings.take()) == 3  # three readings
        published = [(await segments.get(timeout=DEADLINE)).value for _ in range(2)]
    assert [s.point_id for s in published] == [0, 2]
    for point_id, stored in ((0, True), (1, False), (2, True)):
        msg = await conn.get(MessageEndpoints.public_scan_segment("lua", point_id))
        assert (msg is not None) is stored
    assert (await conn.get(MessageEndpoints.device_read("samx"))).signals["samx"]["value"] == 2.0


async def test_the_scans_clean_up_stops_several_points_at_the_one_running(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """An abort's clean-up ``stop`` cancels an instruction of several points where it is: the points
    after the running one neither move nor publish, and the instruction is answered."""
    await start_server()
    parameter = {**_points("cut", [1.0, 2.0, 3.0, 4.0]), "settling_time": 0.3}
    async with conn.subscribe(MessageEndpoints.scan_segment()) as segments:
        batch = await requester.send(["bpm3i", "bpm4i", "samx"], "point", parameter, scan_id="cut")
        first = (await segments.get(timeout=DEADLINE)).value
        assert first.point_id == 0
        stop = await requester.request(["samx"], "stop", {}, scan_id="cut", cleanup=True)
    reply = await requester.reply(batch)
    assert stop.status == "completed", stop.error_info
    assert reply.status == "error" and reply.error_info is not None
    assert "cancelled" in reply.error_info.compact_error_message
    for point_id in (2, 3):
        assert (await conn.get(MessageEndpoints.public_scan_segment("cut", point_id))) is None
    readback = await conn.get(MessageEndpoints.device_readback("samx"))
    assert readback.signals["samx"]["value"] in (1.0, 2.0)  # stopped at the point it was running
    assert (await conn.redis.xpending(STREAM, "device_server"))["pending"] == 0
