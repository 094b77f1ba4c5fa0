"""The async connector against a real redis-server: every operation end to end."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import redis

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import DecodeError, IncompatibleMessageForEndpoint, IncompatibleRedisOperation
from bec_core.redis_connector import AsyncRedisConnector, MessageObject
from bec_core.serialization import dumps

DEADLINE = 10.0


@pytest.fixture
async def conn(clean_redis: str):
    connector = await AsyncRedisConnector(clean_redis).connect()
    yield connector
    await connector.close()


def raw_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def device_msg(value: float) -> messages.DeviceMessage:
    return messages.DeviceMessage(signals={"samx": {"value": value, "timestamp": 1.0}}, metadata={"n": 1})


async def test_set_get_delete_keys(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.scan_number()
    await conn.set(ep, messages.VariableMessage(value=7))
    assert (await conn.get(ep)).content["value"] == 7
    assert ep.endpoint in await conn.keys(ep)
    await conn.delete(ep)
    assert await conn.get(ep) is None


async def test_set_with_expiry(conn: AsyncRedisConnector, clean_redis: str) -> None:
    await conn.set(MessageEndpoints.global_vars("x"), messages.VariableMessage(value=1), expire=30)
    ttl = raw_client(clean_redis).ttl("user/vars/x")
    assert 0 < ttl <= 30


async def test_set_and_publish_reaches_subscriber_and_key(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.device_read("samx")
    async with conn.subscribe(ep) as sub:
        await conn.set_and_publish(ep, device_msg(1.5))
        got = await sub.get(timeout=DEADLINE)
    assert isinstance(got, MessageObject)
    assert got.topic == "info/devices/read/samx"
    assert got.value == device_msg(1.5)
    assert (await conn.get(ep)) == device_msg(1.5)


async def test_subscription_is_live_when_subscribe_returns(
    conn: AsyncRedisConnector, clean_redis: str
) -> None:
    """Redis has confirmed SUBSCRIBE/PSUBSCRIBE before ``subscribe`` returns: a publication made
    right after on another connection is delivered (each round uses a fresh channel)."""
    raw = raw_client(clean_redis)
    for i in range(100):
        ep = MessageEndpoints.device_read(f"live{i}")
        name = ep.endpoint if i % 2 else MessageEndpoints.device_read().endpoint
        async with conn.subscribe(name) as sub:
            raw.publish(ep.endpoint, dumps(device_msg(float(i))))
            got = await sub.get(timeout=DEADLINE)
        assert got.topic == ep.endpoint, i


async def test_register_callback_and_pattern(conn: AsyncRedisConnector) -> None:
    received: asyncio.Queue = asyncio.Queue()

    def cb(msg: MessageObject, tag: str) -> None:
        received.put_nowait((tag, msg.topic, msg.value.content["signals"]["samx"]["value"]))

    await conn.register(MessageEndpoints.device_read(), cb, tag="pattern")
    await conn.set_and_publish(MessageEndpoints.device_read("samy"), device_msg(2.0))
    assert await asyncio.wait_for(received.get(), DEADLINE) == ("pattern", "info/devices/read/samy", 2.0)
    await conn.unregister(MessageEndpoints.device_read(), cb)
    await conn.set_and_publish(MessageEndpoints.device_read("samy"), device_msg(3.0))
    # a fresh subscriber proves the publication happened; the removed callback must not see it
    async with conn.subscribe(MessageEndpoints.device_read("samy")) as sub:
        await conn.set_and_publish(MessageEndpoints.device_read("samy"), device_msg(4.0))
        await sub.get(timeout=DEADLINE)
    assert received.empty()


async def test_get_on_pattern_returns_newest(conn: AsyncRedisConnector) -> None:
    for name, ts in (("a", 5.0), ("b", 9.0), ("c", 1.0)):
        msg = messages.DeviceMessage(signals={name: {"value": ts, "timestamp": ts}})
        await conn.set_and_publish(MessageEndpoints.device_read(name), msg)
    newest = await conn.get(MessageEndpoints.device_read())
    assert "b" in newest.signals


async def test_async_callback(conn: AsyncRedisConnector) -> None:
    done = asyncio.Event()

    async def cb(msg: MessageObject) -> None:
        await asyncio.get_running_loop().run_in_executor(None, done.is_set)  # really awaits something
        done.set()

    await conn.register(MessageEndpoints.scan_status(), cb)
    await conn.set_and_publish(
        MessageEndpoints.scan_status(), messages.ScanStatusMessage(scan_id="s", status="open", info={})
    )
    await asyncio.wait_for(done.wait(), DEADLINE)


async def test_forbidden_operation_raises_before_sending(conn: AsyncRedisConnector, clean_redis: str) -> None:
    ep = MessageEndpoints.scan_segment()  # SEND only
    with pytest.raises(IncompatibleRedisOperation, match=r"set_and_publish.*info/scans/scan_segment"):
        await conn.set_and_publish(ep, messages.ScanMessage(point_id=0, scan_id="s", data={}))
    with pytest.raises(IncompatibleRedisOperation):
        await conn.get(ep)
    with pytest.raises(IncompatibleMessageForEndpoint, match="ScanStatusMessage"):
        await conn.set_and_publish(MessageEndpoints.scan_status(), messages.VariableMessage(value=1))
    assert raw_client(clean_redis).exists("info/scans/scan_segment", "info/scans/scan_status") == 0


async def test_bundle_is_delivered_as_list(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.scan_segment()
    bundle = messages.BundleMessage(
        messages=[messages.ScanMessage(point_id=i, scan_id="s", data={}) for i in range(3)]
    )
    async with conn.subscribe(ep) as sub:
        await conn.raw_send(ep.endpoint, __import__("bec_core.serialization").serialization.dumps(bundle))
        got = await sub.get(timeout=DEADLINE)
    assert [m.point_id for m in got.value] == [0, 1, 2]


async def test_subscription_survives_garbage(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.device_readback("samx")
    async with conn.subscribe(ep) as sub:
        await conn.raw_send(ep.endpoint, b"\xc1 definitely not msgpack")
        await conn.raw_send(ep.endpoint, b"\x81\xa1a\x01")  # valid msgpack, not a message
        await conn.set_and_publish(ep, device_msg(5.0))
        got = await sub.get(timeout=DEADLINE)
    assert got.value == device_msg(5.0)
    assert conn.stats.decode_errors == 2
    assert "info/devices/readback/samx" in conn.stats.last_errors[-1]


async def test_get_of_garbage_raises_decode_error(conn: AsyncRedisConnector, clean_redis: str) -> None:
    raw_client(clean_redis).set("user/scan_number", b"garbage")
    with pytest.raises(DecodeError, match="user/scan_number"):
        await conn.get(MessageEndpoints.scan_number())


async def test_drop_oldest_overflow_counts(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.device_readback("samx")
    sub = conn.subscribe(ep, maxsize=2)
    async with sub:
        for i in range(5):
            await conn.set_and_publish(ep, device_msg(float(i)))
        # the last publication is the proof that all five went through the reader
        async with conn.subscribe(ep) as probe:
            await conn.set_and_publish(ep, device_msg(99.0))
            await probe.get(timeout=DEADLINE)
        values = [sub.get_nowait().value.signals["samx"]["value"] for _ in range(sub.qsize())]
    assert values == [4.0, 99.0]
    assert sub.dropped == 4


async def test_lists(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.scan_queue_history()
    entry = {
        "queue_id": "q",
        "scan_id": ["s"],
        "is_scan": [True],
        "request_blocks": [],
        "scan_number": [1],
        "status": "COMPLETED",
        "active_request_block": None,
    }
    for i in range(5):
        msg = messages.ScanQueueHistoryMessage(status="COMPLETED", queue_id=f"q{i}", info=entry)
        await conn.lpush(ep, msg, max_size=3)
    assert await conn.llen(ep) == 3
    assert [m.queue_id for m in await conn.lrange(ep, 0, -1)] == ["q4", "q3", "q2"]
    popped = await conn.blocking_list_pop(ep, "RIGHT", timeout_s=1)
    assert popped.queue_id == "q2"
    await conn.ltrim(ep, 0, 0)
    assert await conn.llen(ep) == 1


async def test_streams_xadd_xrange_xread_get_last(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.log()
    for i in range(3):
        await conn.xadd(ep, {"data": messages.LogMessage(log_type="info", log_msg=f"m{i}")}, max_size=100)
    assert [e["data"].log_msg for e in await conn.xrange(ep)] == ["m0", "m1", "m2"]
    assert (await conn.get_last(ep)).log_msg == "m2"
    first = await conn.xread(ep)
    assert [e["data"].log_msg for e in first] == ["m2"]
    await conn.xadd(ep, {"data": messages.LogMessage(log_type="info", log_msg="m3")})
    assert [e["data"].log_msg for e in await conn.xread(ep)] == ["m3"]
    with pytest.raises(IncompatibleMessageForEndpoint):
        await conn.xadd(ep, {"data": messages.VariableMessage(value=1)})


async def test_stream_subscription_without_polling(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.log()
    await conn.xadd(ep, {"data": messages.LogMessage(log_type="info", log_msg="old")})
    got: asyncio.Queue = asyncio.Queue()
    await conn.register(ep, lambda m: got.put_nowait(m.value.log_msg))
    replay: asyncio.Queue = asyncio.Queue()
    await conn.register(ep, lambda m: replay.put_nowait(m.value.log_msg), from_start=True)
    assert await asyncio.wait_for(replay.get(), DEADLINE) == "old"
    await conn.xadd(ep, {"data": messages.LogMessage(log_type="info", log_msg="new")})
    assert await asyncio.wait_for(got.get(), DEADLINE) == "new"
    assert await asyncio.wait_for(replay.get(), DEADLINE) == "new"


async def test_consumer_group_redelivers_unacknowledged(clean_redis: str) -> None:
    ep = MessageEndpoints.device_instructions()
    producer = await AsyncRedisConnector(clean_redis).connect()
    instr = messages.DeviceInstructionMessage(
        device="samx", action="read", parameter={}, metadata={"device_instr_id": "i1"}
    )
    await producer.xadd(ep, {"data": instr})
    await producer.raw_send("unused", b"")
    await producer.redis.xadd(ep.endpoint, {"data": b"garbage"})

    first = await AsyncRedisConnector(clean_redis).connect()
    seen = []
    async for entry in first.consume(ep, "device_server", "c1"):
        seen.append(entry)
        if len(seen) == 2:
            break
    assert seen[0].value == instr and seen[1].error is not None
    await first.xack(ep, "device_server", seen[1].id)  # handle the bad one, "crash" before the good one
    await first.close()

    second = await AsyncRedisConnector(clean_redis).connect()
    async for entry in second.consume(ep, "device_server", "c2"):
        assert entry.value == instr  # claimed from the dead consumer
        await second.xack(ep, "device_server", entry.id)
        break
    pending = await second.redis.xpending(ep.endpoint, "device_server")
    assert pending["pending"] == 0
    await second.close()
    await producer.close()


async def test_pipeline_batches(conn: AsyncRedisConnector) -> None:
    pipe = conn.pipeline()
    for name in ("a", "b"):
        await conn.set_and_publish(MessageEndpoints.device_read(name), device_msg(1.0), pipe=pipe)
    await conn.execute_pipeline(pipe)
    assert len(await conn.mget([MessageEndpoints.device_read("a"), MessageEndpoints.device_read("b")])) == 2


async def test_numpy_payload_through_redis(conn: AsyncRedisConnector) -> None:
    ep = MessageEndpoints.device_read("cam")
    frame = np.arange(12, dtype=np.uint16).reshape(3, 4)
    await conn.set_and_publish(
        ep, messages.DeviceMessage(signals={"cam_image": {"value": frame, "timestamp": 1.0}})
    )
    got = await conn.get(ep)
    np.testing.assert_array_equal(got.signals["cam_image"]["value"], frame)


async def test_resubscribes_after_redis_restart(own_redis) -> None:
    conn = await AsyncRedisConnector(own_redis.address).connect()
    ep = MessageEndpoints.device_readback("samx")
    stream_ep = MessageEndpoints.log()
    stream_got: asyncio.Queue = asyncio.Queue()
    await conn.register(stream_ep, lambda m: stream_got.put_nowait(m.value.log_msg))
    async with conn.subscribe(ep) as sub:
        await conn.set_and_publish(ep, device_msg(1.0))
        await sub.get(timeout=DEADLINE)
        own_redis.stop()
        own_redis.start()
        await conn.wait_reconnected(DEADLINE)  # the reconnection itself, then publish again
        assert conn.stats.reconnects == 1
        await conn.set_and_publish(ep, device_msg(2.0))
        got = await sub.get(timeout=DEADLINE)
        assert got.value.signals["samx"]["value"] == 2.0
        await conn.xadd(stream_ep, {"data": messages.LogMessage(log_type="info", log_msg="after restart")})
        assert await asyncio.wait_for(stream_got.get(), DEADLINE) == "after restart"
    await conn.close()


async def test_a_unix_socket_url_serves_keys_pubsub_and_streams(tmp_path) -> None:
    """``unix://`` URLs work end to end (redis-py's unix connection refused the TCP keep-alive option)."""
    from bec_core.redis_connector import RedisConnector
    from bec_core.redis_server import RedisServer

    with RedisServer(unixsocket=tmp_path / "r.sock") as server:
        assert server.url.startswith("unix://")
        conn = await AsyncRedisConnector(server.url).connect()
        try:
            got: asyncio.Queue[MessageObject] = asyncio.Queue()
            ep = MessageEndpoints.device_read("samx")
            await conn.register(ep, cb=got.put_nowait)
            await conn.set_and_publish(ep, device_msg(3.0))
            msg = await asyncio.wait_for(got.get(), DEADLINE)
            assert msg.value.signals["samx"]["value"] == 3.0
            assert (await conn.get(ep)).signals["samx"]["value"] == 3.0
            sync = RedisConnector(server.url)
            try:
                assert sync.get(ep).signals["samx"]["value"] == 3.0
            finally:
                sync.shutdown()
        finally:
            await conn.close()
