"""The scan-request reader (``bec_scan_server.request_reader``) against a real redis-server.

It speaks RESP itself, so its AUTH, its framing of whole and cut messages and
its arrival order are checked here directly, with an ACL user as a beamline's
Redis has.
"""

from __future__ import annotations

import asyncio

from bec_scan_server.request_reader import KEEP, RequestReader

from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer

PATTERN = "personal/*/queue/queue_request"


async def test_reads_whole_and_cut_messages_in_order_with_acl_credentials(acl_redis: RedisServer) -> None:
    conn = await AsyncRedisConnector(acl_redis.address, username="bec", password="s3cret").connect()
    reader = RequestReader.for_connector(conn, PATTERN, max_bytes=1024 * 1024)
    await reader.start()
    try:
        big = b"R" + b"a" * (3 * 1024 * 1024) + b"Z"  # above max_bytes: kept as its two ends
        sent = [b"first", big, b"\r\n*3\r\n$1\r\nx", b"x" * (1024 * 1024)]  # RESP-like bytes are data too
        for payload in sent:
            await conn.redis.publish("personal/bob/queue/queue_request", payload)
        got = [await asyncio.wait_for(reader.get(), 10) for _ in sent]
        assert [g.channel for g in got] == ["personal/bob/queue/queue_request"] * 4
        assert got[0].data == b"first" and got[0].cut is None
        assert got[1].data is None and got[1].cut == "oversized" and got[1].size == len(big)
        assert got[1].head == big[:KEEP] and got[1].tail == big[-KEEP:]
        assert got[2].data == sent[2]
        assert got[3].data == sent[3]  # exactly at the limit: whole
        assert reader.pending() == 0
    finally:
        await reader.stop()
        await conn.close()


async def test_a_killed_connection_is_resubscribed(own_redis: RedisServer) -> None:
    conn = await AsyncRedisConnector(own_redis.url).connect()
    reader = RequestReader.for_connector(conn, PATTERN, max_bytes=1024)
    await reader.start()
    try:
        await conn.redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        for attempt in range(200):  # publish until the resubscribed reader hears one
            await conn.redis.publish("personal/a/queue/queue_request", b"again %d" % attempt)
            try:
                item = await asyncio.wait_for(reader.get(), 0.05)
            except TimeoutError:
                continue
            assert item.data is not None and item.data.startswith(b"again")
            break
        else:
            raise AssertionError("the reader never came back")
        assert reader.drops == 1
    finally:
        await reader.stop()
        await conn.close()
