"""An instruction with publications of its own, answered after Redis was killed and restarted.

A ``set`` that asks for a response (``metadata["response"]`` and a RID) queues its
``device_req_status`` entry on the instruction's pipe; the device server writes it in one packet
with the finishing ``EVALSHA`` (``Finisher.run_after``). A restarted Redis has forgotten the
script and answers ``NOSCRIPT``: the reply and the acknowledgement must still go out (the script
is run again through redis-py, which loads it), and the req_status entry must be there.
"""

from __future__ import annotations

import uuid

import pytest
from faultkit import FaultStack
from ss_harness import wait_services
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceInstructionMessage, DeviceInstructionResponse
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.system

DEADLINE = 60.0
STREAM = MessageEndpoints.device_instructions()


async def _set_with_response(client: AsyncRedisConnector, target: float) -> tuple[str, str]:
    instr_id, rid = str(uuid.uuid4()), str(uuid.uuid4())
    move = DeviceInstructionMessage(
        device="samx",
        action="set",
        parameter={"value": target},
        metadata={"device_instr_id": instr_id, "RID": rid, "response": True},
    )
    await client.xadd(STREAM, {"data": move}, max_size=10000)
    return instr_id, rid


async def _answered(client: AsyncRedisConnector, sub, instr_id: str) -> DeviceInstructionResponse:
    while True:
        item = await sub.get(DEADLINE)
        reply = item.value
        if isinstance(reply, DeviceInstructionResponse) and reply.instruction_id == instr_id:
            if reply.status != "running":
                return reply


async def _req_status(client: AsyncRedisConnector, rid: str) -> bool:
    return bool(await client.redis.xrange(MessageEndpoints.device_req_status(rid).endpoint))


async def test_a_set_with_a_response_is_answered_after_redis_restarted(
    fault_stack: FaultStack, client: AsyncRedisConnector
) -> None:
    fault_stack.start_ds()
    await wait_services(client, ["DeviceServer"])
    async with client.subscribe(MessageEndpoints.device_instructions_response()) as sub:
        instr_id, rid = await _set_with_response(client, 1.0)
        assert (await _answered(client, sub, instr_id)).status == "completed", fault_stack.logs()
        assert await until(lambda: _req_status(client, rid), DEADLINE)

    fault_stack.kill_redis()  # scripts are not in the append-only file: the next EVALSHA is NOSCRIPT
    fault_stack.start_redis()
    await wait_services(client, ["DeviceServer"])
    async with client.subscribe(MessageEndpoints.device_instructions_response()) as sub:
        instr_id, rid = await _set_with_response(client, 2.0)
        reply = await _answered(client, sub, instr_id)
        assert reply.status == "completed", f"{reply.error_info}\n{fault_stack.logs()}"
        assert await until(lambda: _req_status(client, rid), DEADLINE), fault_stack.logs()
    assert (await client.redis.xpending(STREAM.endpoint, "device_server"))["pending"] == 0
    readback = await client.get(MessageEndpoints.device_readback("samx"))
    assert readback.signals["samx"]["value"] == 2.0
    assert (
        fault_stack.ds is not None and fault_stack.ds.proc is not None and fault_stack.ds.proc.poll() is None
    )
