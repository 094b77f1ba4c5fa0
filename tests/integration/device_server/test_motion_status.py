"""``device_status`` follows ``motor_is_moving`` of a real ophyd_devices positioner, as stock publishes it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dshelpers import DEADLINE, Requester

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from waiting import until

SLOW_MOTOR = {
    "samx": {
        "deviceClass": "ophyd_devices.SimPositioner",
        "deviceConfig": {"delay": 1, "limits": [-50, 50], "tolerance": 0.01, "update_frequency": 100},
        "readoutPriority": "baseline",
        "enabled": True,
    }
}


async def status_of(conn: AsyncRedisConnector) -> int | None:
    msg = await conn.get(MessageEndpoints.device_status("samx"))
    return None if msg is None else msg.status


async def test_device_status_is_motor_is_moving(
    start_server: Any, stop_servers: None, requester: Requester, conn: AsyncRedisConnector
) -> None:
    server = await start_server(SLOW_MOTOR)
    assert await status_of(conn) is None  # as stock: nothing before the first motion event
    server.devices.entries["samx"].obj.velocity.put(2)  # 1 unit takes about half a second
    instr_id = await requester.send("samx", "set", {"value": 1.0})
    assert await until(lambda: _is(conn, 1), DEADLINE)  # moving
    reply = await requester.reply(instr_id)
    assert reply.status == "completed"
    assert await until(lambda: _is(conn, 0), DEADLINE)  # stopped


async def _is(conn: AsyncRedisConnector, value: int) -> bool:
    return await status_of(conn) == value


INSTANT_MOTOR = {
    "samx": {**SLOW_MOTOR["samx"], "deviceConfig": {"delay": 0, "limits": [-50, 50], "tolerance": 0.01}}
}


async def test_an_instant_move_leaves_the_stopped_status_of_that_move(
    start_server: Any, stop_servers: None, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """An instant move reports moving and stopped within one loop iteration: written together, the
    key ends as the state the move ended in, with that move's metadata."""
    await start_server(INSTANT_MOTOR)
    for target in (1.0, 2.0):
        instr_id = await requester.send("samx", "set", {"value": target})
        assert (await requester.reply(instr_id)).status == "completed"

        assert await until(lambda i=instr_id: _status_of_move(conn, i), DEADLINE)
        msg = await conn.get(MessageEndpoints.device_status("samx"))
        assert msg.status == 0


async def _status_of_move(conn: AsyncRedisConnector, instr_id: str) -> bool:
    msg = await conn.get(MessageEndpoints.device_status("samx"))
    return msg is not None and msg.metadata.get("device_instr_id") == instr_id
