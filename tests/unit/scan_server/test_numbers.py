"""Scan and dataset numbers: atomic, never reused, honouring what a client wrote (real Redis)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from bec_scan_server.numbers import NumberAllocator, warn_without_persistence

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import VariableMessage
from bec_core.redis_connector import AsyncRedisConnector


@pytest.fixture
async def conn(clean_redis):
    connector = AsyncRedisConnector(clean_redis)
    await connector.connect()
    yield connector
    await connector.close()


async def test_fifty_concurrent_allocations_are_distinct_and_consecutive(conn):
    allocator = NumberAllocator(conn)
    await allocator.start()
    numbers = await asyncio.gather(*(allocator.allocate() for _ in range(50)))
    scans = sorted(n.scan_number for n in numbers)
    assert scans == list(range(1, 51))
    assert sorted(n.dataset_number for n in numbers) == list(range(1, 51))
    stored = await conn.get(MessageEndpoints.scan_number())
    assert stored.value == 50  # no account: the plain number


async def test_two_allocators_share_the_counter(conn, clean_redis):
    other = AsyncRedisConnector(clean_redis)
    await other.connect()
    try:
        a, b = NumberAllocator(conn), NumberAllocator(other)
        await a.start()
        await b.start()
        got = await asyncio.gather(*(x.allocate() for x in [a, b] * 10))
        assert sorted(n.scan_number for n in got) == list(range(1, 21))
    finally:
        await other.close()


async def test_client_written_number_is_honoured_but_never_lowers(conn):
    allocator = NumberAllocator(conn)
    await allocator.start()
    assert (await allocator.allocate()).scan_number == 1
    await conn.set(MessageEndpoints.scan_number(), VariableMessage(value={"": 99}))
    assert (await allocator.allocate()).scan_number == 100
    await conn.set(MessageEndpoints.scan_number(), VariableMessage(value={"": 3}))
    assert (await allocator.allocate()).scan_number == 101  # never reused


async def test_dataset_on_hold_and_account(conn):
    await conn.xadd(MessageEndpoints.account(), {"data": VariableMessage(value="p12345")})
    allocator = NumberAllocator(conn)
    await allocator.start()
    assert allocator.account == "p12345"
    first = await allocator.allocate()
    second = await allocator.allocate(dataset_on_hold=True)
    assert second.scan_number == first.scan_number + 1
    assert second.dataset_number == first.dataset_number
    assert (await conn.get(MessageEndpoints.scan_number())).value == {"p12345": 2}


async def test_legacy_plain_int_value(conn):
    await conn.set(MessageEndpoints.scan_number(), VariableMessage(value=41))
    allocator = NumberAllocator(conn)
    await allocator.start()
    assert (await allocator.allocate()).scan_number == 42


async def test_warning_without_persistence(conn, caplog):
    with caplog.at_level(logging.WARNING):
        assert await warn_without_persistence(conn) is False
    assert "no persistence" in caplog.text
