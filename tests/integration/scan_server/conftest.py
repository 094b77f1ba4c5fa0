"""Fixtures: a redis-server, the real device server and the scan server as processes (one set per module)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from ss_harness import Recorder, all_endpoints, scan_stack, wait_services, write_devices

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
    connector = await AsyncRedisConnector(stack["url"]).connect()
    try:
        await wait_services(connector, ["ScanServer", "ScanBundler", "DeviceServer"])
        yield connector
    finally:
        await connector.close()


@pytest.fixture
async def rec(conn: AsyncRedisConnector) -> Recorder:
    """Records what a client would see."""
    return await Recorder(conn).follow(**all_endpoints())
