"""Fixtures: a redis-server, the real device server and the scan server as processes (one set per module)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from ss_harness import Proc, Recorder, all_endpoints, device_server, scan_server, wait_services, write_devices

from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Redis + ``bec-device-server`` + ``bec-scan-server`` for the module's tests."""
    tmp = tmp_path_factory.mktemp("scan-stack")
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    config = write_devices(tmp / "devices.yaml")
    ds = device_server(redis.url, config, tmp).start()
    ss = scan_server(redis.url, tmp).start()
    env = {"url": redis.url, "redis": redis, "ds": ds, "ss": ss, "tmp": tmp, "config": config}
    try:
        yield env
    finally:
        codes = {name: p.stop() for name, p in (("ss", env["ss"]), ("ds", env["ds"])) if isinstance(p, Proc)}
        redis.stop()
        assert codes.get("ss", 0) in (0, -9), Path(tmp / "ss.log").read_text()[-3000:]


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
