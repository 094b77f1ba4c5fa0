"""Fixtures: the file writer as a real process against a clean Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fw_harness import Writer, wait_running

from bec_core.redis_connector import AsyncRedisConnector


@pytest.fixture
async def conn(clean_redis: str) -> AsyncIterator[AsyncRedisConnector]:
    """A client connection to a clean Redis."""
    connector = await AsyncRedisConnector(clean_redis).connect()
    try:
        yield connector
    finally:
        await connector.close()


@pytest.fixture
async def writer(clean_redis: str, conn: AsyncRedisConnector, tmp_path: Path) -> AsyncIterator[Writer]:
    """``bec-file-writer`` running (RUNNING heartbeat seen); stopped with SIGTERM afterwards."""
    proc = Writer(clean_redis, tmp_path).start()
    try:
        await wait_running(conn)
        yield proc
    finally:
        code = proc.stop()
        assert code == 0, proc.tail()
