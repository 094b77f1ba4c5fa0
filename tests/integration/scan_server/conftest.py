"""Fixtures: a redis-server, the real device server and the scan server as processes (one set per module)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from ss_harness import Recorder, all_endpoints, connected, scan_stack, write_devices

from bec_core.redis_connector import AsyncRedisConnector


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Redis + ``bec-device-server`` + ``bec-scan-server`` for the module's tests."""
    tmp = tmp_path_factory.mktemp("scan-stack")
    with scan_stack(tmp, write_devices(tmp / "devices.yaml")) as env:
        yield env
    assert env.get("ss_code", 0) in (0, -9), (tmp / "ss.log").read_text()[-3000:]


@pytest.fixture
async def conn(stack: dict) -> AsyncIterator[AsyncRedisConnector]:
    """A client connection, once both servers run."""
    async with connected(stack["url"], ["ScanServer", "ScanBundler", "DeviceServer"]) as connector:
        yield connector


@pytest.fixture
async def rec(conn: AsyncRedisConnector) -> Recorder:
    """Records what a client would see."""
    return await Recorder(conn).follow(**all_endpoints())
