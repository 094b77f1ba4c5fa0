"""Fault tests: real redis-server, real ``bec-device-server`` / ``bec-scan-server`` processes.

Each test builds its own stack (it kills and restarts parts of it), so the
fixtures here are function-scoped. The process helpers and the recorder are the
scan-server test harness's (tests/integration/scan_server/ss_harness.py).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "scan_server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultkit import FaultStack

from bec_core.redis_connector import AsyncRedisConnector


@pytest.fixture
def fault_stack(tmp_path: Path) -> Iterator[FaultStack]:
    """Redis (append-only file on, running) + device server + scan server (started by the test), all
    stopped afterwards."""
    stack = FaultStack(tmp_path)
    stack.start_redis()
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
async def client(fault_stack: FaultStack) -> AsyncIterator[AsyncRedisConnector]:
    """A client connection to the stack's Redis."""
    conn = await AsyncRedisConnector(fault_stack.redis.url).connect()
    try:
        yield conn
    finally:
        await conn.close()
