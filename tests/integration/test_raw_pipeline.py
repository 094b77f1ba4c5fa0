"""``AsyncRedisConnector.batch()``: the connector's ``pipe=`` methods written as one raw packet (real Redis).

Each test compares with what Redis holds afterwards, read by a plain redis-py client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis
from redis.exceptions import ResponseError

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector, MessageObject
from bec_core.serialization import dumps

DEADLINE = 10.0


@pytest.fixture
async def conn(clean_redis: str) -> AsyncIterator[AsyncRedisConnector]:
    connector = await AsyncRedisConnector(clean_redis).connect()
    yield connector
    await connector.close()


def status(value: int) -> messages.ScanQueueStatusMessage:
    return messages.ScanQueueStatusMessage(
        queue={
            "primary": {"info": [], "status": "RUNNING", "locks": [{"reason": str(value), "identifier": "t"}]}
        }
    )


def history_entry(queue_id: str) -> messages.ScanQueueHistoryMessage:
    info = {
        "queue_id": queue_id,
        "scan_id": [],
        "is_scan": [],
        "request_blocks": [],
        "scan_number": [],
        "status": "COMPLETED",
    }
    return messages.ScanQueueHistoryMessage(status="COMPLETED", queue_id=queue_id, info=info)


async def test_the_connector_methods_land_as_with_a_redis_py_pipeline(
    conn: AsyncRedisConnector, clean_redis: str
) -> None:
    """SET+PUBLISH with expiry, a capped LPUSH, LREM, an XADD with expiry: same keys, same bytes."""
    got: asyncio.Queue[MessageObject] = asyncio.Queue()
    await conn.register(MessageEndpoints.scan_queue_status(), got.put_nowait)
    history = MessageEndpoints.scan_queue_history()
    entries = [history_entry(f"q{i}") for i in range(4)]
    pipe = conn.batch()
    await conn.set_and_publish(MessageEndpoints.scan_queue_status(), status(1), expire=50, pipe=pipe)
    for entry in entries:
        await conn.lpush(history, entry, max_size=3, pipe=pipe)
    await conn.lrem(history, 1, entries[2], pipe=pipe)
    await conn.xadd(
        MessageEndpoints.client_info(),
        {"data": messages.ClientInfoMessage(message="m", source="scan_server")},
        expire=60,
        pipe=pipe,
    )
    assert len(pipe) == 1 + 1 + 4 * 2 + 1 + 2
    replies = await pipe.execute()
    assert replies[:2] == [b"OK", 1]  # Redis's own replies: SET's OK, PUBLISH's one receiver
    raw = redis.Redis.from_url(clean_redis)
    try:
        assert raw.get(MessageEndpoints.scan_queue_status().endpoint) == dumps(status(1))
        assert 0 < raw.ttl(MessageEndpoints.scan_queue_status().endpoint) <= 50
        assert raw.lrange(history.endpoint, 0, -1) == [dumps(entries[3]), dumps(entries[1])]
        assert raw.xlen(MessageEndpoints.client_info().endpoint) == 1
        assert 0 < raw.ttl(MessageEndpoints.client_info().endpoint) <= 60
    finally:
        raw.close()
    received = await asyncio.wait_for(got.get(), DEADLINE)
    assert received.value == status(1)
    assert pipe.command_stack == []  # executed: a second execute sends nothing
    assert await pipe.execute() == []


async def test_replies_in_order_and_errors_raised_or_returned(conn: AsyncRedisConnector) -> None:
    pipe = conn.batch()
    pipe.set("plain", b"x").lpush("plain", b"y").set("after", b"z", nx=True)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await pipe.execute()
    assert await conn.redis.get("after") == b"z"  # an error reply does not stop the commands after it
    pipe.lpush("plain", b"y").exists("plain", "after", "nothing")
    replies = await pipe.execute(raise_on_error=False)
    assert isinstance(replies[0], ResponseError)
    assert replies[1] == 2


async def test_a_transaction_is_all_or_nothing(conn: AsyncRedisConnector) -> None:
    pipe = conn.batch(transaction=True)
    pipe.rpush("queue", b"a").execute_command("SET", "half")  # wrong arity: refused as it is queued
    with pytest.raises(ResponseError):
        await pipe.execute()
    assert await conn.redis.exists("queue") == 0  # EXECABORT: nothing ran
    pipe.rpush("queue", b"a").rpush("queue", b"b").delete("gone")
    assert await pipe.execute() == [1, 2, 0]  # the replies of the commands, from EXEC
    assert await conn.redis.lrange("queue", 0, -1) == [b"a", b"b"]


async def test_concurrent_batches_and_a_killed_connection(
    conn: AsyncRedisConnector, clean_redis: str
) -> None:
    """Two batches at once (the second goes through the pool); the kept connection killed by the
    server: the next batch is still written (through the pool, then on a new kept connection)."""

    async def fill(name: str) -> list[object]:
        pipe = conn.batch()
        for i in range(200):
            pipe.rpush(name, i)
        return await pipe.execute()

    first, second = await asyncio.gather(fill("one"), fill("two"))
    assert first == second == list(range(1, 201))
    raw = redis.Redis.from_url(clean_redis)
    try:
        killed = 0
        for client in raw.client_list():
            if client["cmd"] == "rpush":  # the connection the batches were written on last
                raw.client_kill_filter(_id=client["id"])
                killed += 1
        assert killed >= 1
        for round_ in range(2):
            pipe = conn.batch(transaction=round_ == 1)
            pipe.set(f"k{round_}", b"v")
            assert await pipe.execute() == [b"OK"]
        assert raw.mget("k0", "k1") == [b"v", b"v"]
    finally:
        raw.close()
