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
