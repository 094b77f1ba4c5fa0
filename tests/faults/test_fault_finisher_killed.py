"""The device server's finishing connection killed while many commands are in flight on it.

Point instructions of several points keep the ``Finisher`` busy: each point's publication and
each reply is an ``EVALSHA`` written at once on one connection, the replies read in order. When
that connection fails, the command that saw the failure drops it and runs again through the pool;
so must every other command that was written on it and has not read its reply: the pool may hand
the dropped connection object on, reconnected, and a late reader there would take another
command's reply and leave that one waiting for ever (the likely cause of a scan that stalled
after a Redis restart in one CI run; this test does not force that interleaving). Here 60
finishing commands are in flight when ``CLIENT KILL`` closes the connection (before, among and
after the first replies): every one must complete, each segment stored.
"""

from __future__ import annotations

import asyncio

from bec_device_server.publish import Finisher, Readings, Segment

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

DEADLINE = 30.0
COMMANDS = 60  # below the pool's 100 connections: each may fall back to one of its own


def _args(point_id: int) -> tuple:
    readings = Readings()
    readings.add("samx", {"samx": {"value": float(point_id), "timestamp": 1.0}}, {"point_id": point_id})
    readings.segment(
        Segment.parse(
            {
                "scan_id": "kill",
                "point_id": point_id,
                "metadata": {"scan_id": "kill"},
                "key": MessageEndpoints.public_scan_segment("kill", point_id).endpoint,
                "expire": 600,
                "guard": f"internal/scan_server/withdrawn/kill/{point_id}",
                "forget": "",
            }
        )
    )
    return readings.take()


async def test_every_finishing_command_in_flight_completes_when_its_connection_is_killed(
    clean_redis: str,
) -> None:
    conn = await AsyncRedisConnector(clean_redis).connect()
    try:
        for kill_after in (0, 1, 50):  # the kill lands before, among and after the first replies
            finisher = Finisher(conn)  # a fresh one per round, with a connection of its own
            await conn.redis.delete(
                *[MessageEndpoints.public_scan_segment("kill", n).endpoint for n in range(COMMANDS)]
            )
            await finisher.run(_args(0))  # the finisher's own connection exists
            assert finisher._conn is not None
            await finisher._conn.send_command("CLIENT", "ID")  # idle: borrow it for its id
            own_id = await finisher._conn.read_response()
            tasks = [asyncio.ensure_future(finisher.run(_args(n))) for n in range(COMMANDS)]
            if kill_after:
                await asyncio.wait(tasks[:kill_after], timeout=DEADLINE)
            await conn.redis.execute_command("CLIENT", "KILL", "ID", own_id)
            done, pending = await asyncio.wait(tasks, timeout=DEADLINE)
            assert not pending, f"{len(pending)} finishing commands never completed (kill after {kill_after})"
            for task in done:
                task.result()
            stored = await conn.redis.exists(
                *[MessageEndpoints.public_scan_segment("kill", n).endpoint for n in range(COMMANDS)]
            )
            assert stored == COMMANDS
            await finisher.close()
    finally:
        await conn.close()
