"""Defect 1 of issue 11, connector level: a call made while Redis is away waits for it (up to the
connector's outage deadline) instead of raising at once; pub/sub listeners hear of the reconnection."""

from __future__ import annotations

import asyncio

import pytest
from faultkit import FaultStack
from redis.exceptions import ConnectionError as RedisConnectionError

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceMessage, VariableMessage
from bec_core.redis_connector import AsyncRedisConnector, RedisConnector

pytestmark = pytest.mark.system

DEADLINE = 30.0


async def test_a_call_during_an_outage_completes_once_redis_is_back(fault_stack: FaultStack) -> None:
    conn = await AsyncRedisConnector(fault_stack.redis.url, outage_timeout=DEADLINE).connect()
    reconnected = asyncio.Event()
    conn.on_reconnect(reconnected.set)
    try:
        async with conn.subscribe(MessageEndpoints.device_readback("samx")):  # a pub/sub reader
            fault_stack.kill_redis()
            call = asyncio.create_task(
                conn.set(MessageEndpoints.scan_number(), VariableMessage(value={"": 7}))
            )
            # the call is retrying against a dead port (the health says so), not failed
            await asyncio.wait_for(_until(lambda: conn.health.down or call.done()), DEADLINE)
            assert not call.done(), call.exception() if call.done() else None
            fault_stack.start_redis()
            await asyncio.wait_for(call, DEADLINE)  # returned normally: no exception
            await asyncio.wait_for(reconnected.wait(), DEADLINE)
        assert (await conn.get(MessageEndpoints.scan_number())).value == {"": 7}
        assert not conn.health.down and conn.health.outages == 1
    finally:
        await conn.close()


async def test_a_subscription_made_during_an_outage_is_live_once_redis_is_back(
    fault_stack: FaultStack,
) -> None:
    """``subscribe`` waits for Redis's confirmation: made while Redis is dead it neither hangs nor
    returns a dead subscription; it is confirmed by the reconnection's resubscription, and a
    message published after that reaches it."""
    conn = await AsyncRedisConnector(fault_stack.redis.url, outage_timeout=DEADLINE).connect()
    reconnected = asyncio.Event()
    conn.on_reconnect(reconnected.set)
    ep = MessageEndpoints.device_readback("samy")
    try:
        async with conn.subscribe(MessageEndpoints.device_readback("samx")):  # a pub/sub reader
            fault_stack.kill_redis()
            await asyncio.wait_for(_until(lambda: conn.health.down), DEADLINE)
            late = conn.subscribe(ep)
            entering = asyncio.create_task(late.__aenter__())
            fault_stack.start_redis()
            await asyncio.wait_for(entering, DEADLINE)
            try:
                await asyncio.wait_for(reconnected.wait(), DEADLINE)
                reading = DeviceMessage(signals={"samy": {"value": 3.0, "timestamp": 1.0}})
                await conn.set_and_publish(ep, reading)
                got = await late.get(timeout=DEADLINE)
                assert got.topic == ep.endpoint and got.value == reading
            finally:
                await late.__aexit__(None, None, None)
    finally:
        await conn.close()


async def test_a_subscription_cancelled_while_redis_is_frozen_is_not_left_behind(
    fault_stack: FaultStack,
) -> None:
    """A frozen Redis never confirms a SUBSCRIBE: the caller that gives up (cancels) leaves no
    subscription registered, and the connector subscribes normally once Redis answers again."""
    conn = await AsyncRedisConnector(fault_stack.redis.url, outage_timeout=DEADLINE).connect()
    ep = MessageEndpoints.device_readback("samy")
    try:
        async with conn.subscribe(MessageEndpoints.device_readback("samx")):  # the reader runs
            fault_stack.freeze_redis()
            try:
                entering = asyncio.create_task(conn.subscribe(ep).__aenter__())
                await asyncio.wait_for(_until(lambda: ep.endpoint in conn._pubsub.channels), DEADLINE)
                entering.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await entering
                assert ep.endpoint not in conn._pubsub.channels
            finally:
                fault_stack.thaw_redis()
            async with conn.subscribe(ep) as sub:
                reading = DeviceMessage(signals={"samy": {"value": 4.0, "timestamp": 1.0}})
                await conn.set_and_publish(ep, reading)
                assert (await sub.get(timeout=DEADLINE)).value == reading
    finally:
        await conn.close()


async def test_a_call_gives_up_after_the_outage_deadline(fault_stack: FaultStack) -> None:
    conn = await AsyncRedisConnector(fault_stack.redis.url, outage_timeout=1.0).connect()
    try:
        fault_stack.kill_redis()
        with pytest.raises(RedisConnectionError):
            await conn.get(MessageEndpoints.scan_number())
        assert conn.health.down and conn.health.unavailable_for() >= 1.0
    finally:
        await conn.close()


def test_the_sync_client_connector_waits_up_to_its_timeout(fault_stack: FaultStack) -> None:
    client = RedisConnector(fault_stack.redis.url, timeout=DEADLINE)
    try:
        client.set(MessageEndpoints.scan_number(), VariableMessage(value={"": 1}))
        fault_stack.kill_redis()
        fault_stack.start_redis()  # same port, AOF reloaded
        assert client.get(MessageEndpoints.scan_number()).value == {"": 1}  # no ConnectionError
    finally:
        client.shutdown()


async def _until(check) -> None:  # type: ignore[no-untyped-def]
    while not check():
        await asyncio.sleep(0.01)  # polls connector state that has no event of its own
