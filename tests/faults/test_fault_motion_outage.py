"""Motors that stop while Redis is down: their ``device_status`` and ``device_readback`` end right.

The device server writes the motion status and the throttled readbacks on a connection of
their own (packed commands), falling back to the pool, which rides out an outage. Redis is
SIGKILLed while two slow motors move and restarted (from its append-only file, which holds
"moving" and a position half way) only after the moves have ended. Once Redis is back the keys
must say what the motors did: stopped, with that move's metadata, at the target. (Before the
fix, the readback writes held up by the outage raced when Redis came back, and an older
position could win: the key stayed at 2.84 of 3.0.)
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from faultkit import FaultStack
from ss_harness import wait_services
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceInstructionMessage
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.system

DEADLINE = 60.0
TARGET = 3.0
VELOCITY = 2.0  # 1.5 s for the move
DOWN_S = 3.0  # longer than what is left of the move: it ends while Redis is down

MOTORS = ("slowx", "slowy")  # two: each is a chance for the race (it hit 1 move in 2 before the fix)
SLOW_MOTORS = "".join(
    f"""
{name}:
  deviceClass: bec_device_server.sim.SimPositioner
  deviceConfig: {{delay: 1, velocity: {VELOCITY}, update_frequency: 50}}
  readoutPriority: baseline
  enabled: true
"""
    for name in MOTORS
)


async def _get(client: AsyncRedisConnector, endpoint) -> object | None:
    try:
        return await client.get(endpoint)
    except Exception:  # Redis down or still loading its AOF
        return None


async def _statuses(client: AsyncRedisConnector) -> dict[str, tuple[int, str | None] | None]:
    """Per motor: (status, the instruction id in its metadata)."""
    out: dict[str, tuple[int, str | None] | None] = {}
    for name in MOTORS:
        msg = await _get(client, MessageEndpoints.device_status(name))
        out[name] = None if msg is None else (msg.status, msg.metadata.get("device_instr_id"))
    return out


async def _positions(client: AsyncRedisConnector) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in MOTORS:
        msg = await _get(client, MessageEndpoints.device_readback(name))
        out[name] = None if msg is None else msg.signals[name]["value"]
    return out


async def test_moves_that_end_during_an_outage_leave_stopped_and_at_target(
    fault_stack: FaultStack, client: AsyncRedisConnector
) -> None:
    fault_stack.config.write_text(SLOW_MOTORS)
    fault_stack.start_ds()
    await wait_services(client, ["DeviceServer"])
    ids = {name: str(uuid.uuid4()) for name in MOTORS}
    for name, instr_id in ids.items():
        move = DeviceInstructionMessage(
            device=name, action="set", parameter={"value": TARGET}, metadata={"device_instr_id": instr_id}
        )
        await client.xadd(MessageEndpoints.device_instructions(), {"data": move}, max_size=10000)
    moving = {name: (1, instr_id) for name, instr_id in ids.items()}
    stopped = {name: (0, instr_id) for name, instr_id in ids.items()}
    assert await until(lambda: _statuses_are(client, moving), DEADLINE), fault_stack.logs()
    half_way = await _positions(client)
    assert all(p is not None and p < TARGET for p in half_way.values()), half_way  # what the AOF holds

    fault_stack.kill_redis()
    await asyncio.sleep(DOWN_S)  # the outage itself (the fault being injected), not a synchronisation
    fault_stack.start_redis()
    back_at = time.monotonic()

    assert await until(lambda: _statuses_are(client, stopped), DEADLINE), (
        f"device_status {await _statuses(client)}\n{fault_stack.logs()}"
    )
    assert await until(lambda: _at_target(client), DEADLINE), (
        f"device_readback {await _positions(client)}\n{fault_stack.logs()}"
    )
    settled = time.monotonic() - back_at
    assert await _statuses(client) == stopped  # both at once
    assert (
        fault_stack.ds is not None and fault_stack.ds.proc is not None and fault_stack.ds.proc.poll() is None
    )
    print(
        f"\nFIGURE motors stopped during a {DOWN_S:g} s outage: status and readback right {settled:.2f} s after"
    )


async def _statuses_are(client: AsyncRedisConnector, expected: dict[str, tuple[int, str]]) -> bool:
    return await _statuses(client) == expected


async def _at_target(client: AsyncRedisConnector) -> bool:
    return all(p is not None and abs(p - TARGET) <= 0.01 for p in (await _positions(client)).values())
