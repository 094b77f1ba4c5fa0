"""Delivery guarantees (ack, redelivery, idempotence), deadlines and bad input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from dshelpers import DEADLINE, Requester, device_set
from waiting import until

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps

pytestmark = pytest.mark.usefixtures("stop_servers")

STREAM = "internal/devices/instructions"
FAILING = {
    "hang": {
        "deviceClass": "bec_device_server.sim.SimFailing",
        "deviceConfig": {"hang_on": ["set"]},
        "readoutPriority": "baseline",
        "enabled": True,
    },
    "broken": {
        "deviceClass": "bec_device_server.sim.SimFailing",
        "deviceConfig": {"fail_on": ["read", "set"]},
        "readoutPriority": "monitored",
        "onFailure": "raise",
        "enabled": True,
    },
    "flaky": {
        "deviceClass": "bec_device_server.sim.SimFailing",
        "deviceConfig": {"fail_reads": 2},
        "readoutPriority": "monitored",
        "onFailure": "retry",
        "enabled": True,
    },
    "flaky3": {
        "deviceClass": "bec_device_server.sim.SimFailing",
        "deviceConfig": {"fail_reads": 3},
        "readoutPriority": "monitored",
        "onFailure": "retry",
        "enabled": True,
    },
    "buffered": {
        "deviceClass": "bec_device_server.sim.SimFailing",
        "readoutPriority": "monitored",
        "onFailure": "buffer",
        "enabled": True,
    },
    "off": {
        "deviceClass": "bec_device_server.sim.SimMonitor",
        "readoutPriority": "monitored",
        "enabled": False,
    },
    "noinit": {
        "deviceClass": "bec_device_server.sim.SimFailing",
        "deviceConfig": {"fail_on": ["init"]},
        "readoutPriority": "monitored",
        "enabled": True,
    },
    "forbidden": {"deviceClass": "os.system", "readoutPriority": "monitored", "enabled": True},
}


async def pending_drains(conn: AsyncRedisConnector) -> bool:
    """True once no entry of the device server's group is pending (within DEADLINE)."""

    async def drained() -> bool:
        return not (await conn.redis.xpending(STREAM, "device_server"))["pending"]

    return await until(drained, DEADLINE)


def instruction(
    device: Any, action: str, parameter: dict | None = None, **metadata: Any
) -> messages.DeviceInstructionMessage:
    return messages.DeviceInstructionMessage(
        device=device,
        action=action,
        parameter=parameter or {},
        metadata={"device_instr_id": str(uuid.uuid4()), **metadata},
    )


async def test_instruction_written_before_start_is_answered(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    msg = instruction("samx", "set", {"value": 1.0})
    fut = requester.expect(msg.metadata["device_instr_id"])
    await conn.xadd(MessageEndpoints.device_instructions(), {"data": msg})
    await start_server()
    reply = await requester.reply(msg.metadata["device_instr_id"])
    assert reply.status == "completed" and fut.done()
    pending = await conn.redis.xpending(STREAM, "device_server")
    assert pending["pending"] == 0


async def test_unacked_entry_of_a_dead_consumer_is_redelivered(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    msg = instruction("bpm4i", "read", {"return_result": True})
    await conn.xadd(MessageEndpoints.device_instructions(), {"data": msg})
    await conn.redis.xgroup_create(STREAM, "device_server", id="0", mkstream=True)
    delivered = await conn.redis.xreadgroup("device_server", "dead-process", {STREAM: ">"})
    assert delivered  # delivered to a consumer that then "died" without acking
    await start_server(consumer="new-process")
    reply = await requester.reply(msg.metadata["device_instr_id"])
    assert reply.status == "completed" and "bpm4i" in reply.result
    assert (await conn.redis.xpending(STREAM, "device_server"))["pending"] == 0


async def test_redelivered_instruction_is_not_executed_twice(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    srv = await start_server()
    instr_id = str(uuid.uuid4())
    first = await requester.request("samx", "set", {"value": 3.0}, device_instr_id=instr_id)
    executed = srv.instructions.executed
    requester.replies.pop(instr_id)
    again = await requester.request("samx", "set", {"value": 3.0}, device_instr_id=instr_id)
    assert first.status == again.status == "completed"
    assert srv.instructions.executed == executed


async def test_second_delivery_is_answered_when_the_first_ends_without_a_reply(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """A copy delivered while the first delivery still runs waits for it; if the first ends without
    sending its reply (its task cancelled, as when its finishing command fails), the copy answers."""
    srv = await start_server(device_set(**FAILING))
    processor = srv.instructions
    instr_id = await requester.send("hang", "set", {"value": 1}, timeout=1.0)
    assert await until(lambda: _true(instr_id in processor.inflight), DEADLINE)
    first = set(processor.tasks)
    await requester.send("hang", "set", {"value": 1}, timeout=1.0, device_instr_id=instr_id)
    assert await until(lambda: _true(len(processor.tasks) == 2), DEADLINE), "the copy was not read"
    for task in first:
        task.cancel()  # the first delivery ends without its reply
    reply = await requester.reply(instr_id)
    assert reply.status == "error"
    assert reply.error_info.error_message == "hang: set did not finish within 1 s"
    # the copy's entry is acknowledged with its reply; the first's stays pending (a later delivery
    # of it is answered from the remembered reply, or expires)
    assert (await conn.redis.xpending(STREAM, "device_server"))["pending"] == 1


async def _true(value: bool) -> bool:
    return value


async def test_set_that_never_finishes_times_out(start_server: Any, requester: Requester) -> None:
    await start_server(device_set(**FAILING))
    reply = await requester.request("hang", "set", {"value": 1}, wait=DEADLINE, timeout=0.2)
    assert reply.status == "error"
    assert reply.error_info.error_message == "hang: set did not finish within 0.2 s"
    assert reply.error_info.exception_type == "TimeoutError" and reply.error_info.device == "hang"
    assert (await requester.request("samx", "set", {"value": 1})).status == "completed"


async def test_read_failure_policies(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    srv = await start_server(device_set(**FAILING))
    raised = await requester.request("broken", "read")
    assert raised.status == "error" and raised.error_info.device == "broken"
    assert "read failed" in raised.error_info.compact_error_message
    # the start-up read was attempt 1: flaky fails attempt 2, its retry (attempt 3) succeeds
    assert (await requester.request("flaky", "read", {"return_result": True})).status == "completed"
    retried = await requester.request("flaky3", "read")  # attempts 2 and 3 fail
    assert retried.status == "error" and retried.error_info.device == "flaky3"
    assert (await requester.request("flaky3", "read")).status == "completed"
    first = await requester.request("buffered", "read", {"return_result": True})
    srv.devices.get("buffered").obj.fail_on.add("read")
    buffered = await requester.request("buffered", "read", {"return_result": True})
    assert buffered.status == "completed" and buffered.result == first.result
    alarm = await conn.get(MessageEndpoints.alarm())
    assert isinstance(alarm, messages.AlarmMessage) and alarm.info.device == "buffered"
    mixed = await requester.request(["broken", "bpm4i"], "read")
    assert mixed.status == "error" and mixed.error_info.device == "broken"


async def test_build_failures_are_reported_and_others_serve(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    async with conn.subscribe(MessageEndpoints.alarm()) as alarms:
        await start_server(device_set(**FAILING))
        alarmed = [(await alarms.get(timeout=DEADLINE)).value.info for _ in range(2)]
    assert {info.device for info in alarmed} == {"noinit", "forbidden"}
    forbidden = next(info for info in alarmed if info.device == "forbidden")
    assert "not in the allowed modules" in forbidden.error_message
    config = {d["name"]: d for d in (await conn.get(MessageEndpoints.device_config())).resource}
    assert config["noinit"]["enabled"] is False and config["off"]["enabled"] is False
    info = (await conn.get(MessageEndpoints.device_info("forbidden"))).info
    assert info["signals"] == {} and info["describe"] == {}  # stock's info of an unconnected device
    reply = await requester.request("noinit", "read")
    assert reply.status == "error" and "failed to build" in reply.error_info.error_message
    assert (await requester.request("samx", "read")).status == "completed"


@pytest.mark.parametrize(
    ("device", "action", "parameter", "expected"),
    [
        ("nosuch", "read", {}, "unknown device 'nosuch'"),
        (["samx", "nosuch"], "set", {"value": 1}, "unknown device 'nosuch'"),
        ("off", "read", {}, "device 'off' is disabled"),
        ("samx", "open_scan", {}, "unknown action 'open_scan'"),
        ("samx", "read", {"return_result": "yes"}, "'return_result' must be bool"),
        ("samx", "set", {"values": [1, 2]}, "'values' must be a map"),
        ("samx", "set", {}, "needs 'value' or 'values'"),
        ("samx", "set", {"value": "far"}, "samx: set failed: TypeError"),
        ("samx", "set", {"value": 500}, "LimitError"),
        ("broken", "set", {"value": 1}, "broken: set failed: SimulatedFailure"),
        (None, "point", {"settling_time": "x"}, "'settling_time' must be float"),
        (None, "point", {"read": [1]}, "list of device names"),
        ("samx.nothing", "set", {"value": 1}, "no public component 'nothing'"),
        ("samx._private", "set", {"value": 1}, "no public component '_private'"),
    ],
)
async def test_bad_instructions_get_clear_errors(
    start_server: Any, requester: Requester, device: Any, action: str, parameter: dict, expected: str
) -> None:
    await start_server(device_set(**FAILING))
    reply = await requester.request(device, action, parameter)
    assert reply.status == "error"
    assert expected in reply.error_info.error_message
    assert (await requester.request("bpm4i", "read")).status == "completed"


async def test_bad_timeout_metadata(start_server: Any, requester: Requester) -> None:
    await start_server()
    reply = await requester.request("samx", "read", timeout="soon")
    assert reply.status == "error" and "timeout" in reply.error_info.error_message


async def test_garbage_and_invalid_entries_on_the_stream(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    await conn.redis.xadd(STREAM, {"data": b"\x00\xffgarbage"})
    await conn.redis.xadd(STREAM, {"other": b"x"})
    bogus_id = str(uuid.uuid4())
    bogus = dumps(instruction("samx", "read"))
    bogus = bogus.replace(b"\xa4read", b"\xa5bogus").replace(
        bogus[bogus.index(b"$") - 1 : bogus.index(b"$") + 37], b"\xd9\x24" + bogus_id.encode()
    )
    fut = requester.expect(bogus_id)
    await conn.redis.xadd(STREAM, {"data": bogus})
    reply = await requester.reply(bogus_id)
    assert fut.done() and reply.status == "error"
    assert "unknown action 'bogus'" in reply.error_info.error_message
    assert reply.instruction.metadata["rejected_action"] == "bogus"
    assert (await requester.request("samx", "read")).status == "completed"
    # Entries are handled concurrently: an undecodable one is acknowledged after its alarm,
    # which may come after the reply of a later instruction.
    assert await pending_drains(conn)
    no_id = messages.DeviceInstructionMessage(device="samx", action="read", parameter={}, metadata={})
    await conn.xadd(MessageEndpoints.device_instructions(), {"data": no_id})
    assert (await requester.request("samx", "read")).status == "completed"
    assert any(
        "device_instr_id" in (r.error_info.error_message if r.error_info else "") for r in requester.all
    )
