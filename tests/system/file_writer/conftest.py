"""A real stack for file-writer system tests: redis-server, bec-device-server, bec-scan-server and
bec-file-writer as processes, files under the module's temporary directory."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2] / "integration" / "scan_server"))
sys.path.insert(0, str(HERE.parents[2] / "integration" / "file_writer"))

from fw_harness import Writer  # noqa: E402
from ss_harness import (  # noqa: E402
    Proc,
    Recorder,
    all_endpoints,
    device_server,
    scan_server,
    wait_services,
    write_devices,
)

from bec_core.redis_connector import AsyncRedisConnector  # noqa: E402
from bec_core.redis_server import RedisServer  # noqa: E402

MONITORS = "".join(
    f"mon{i:02d}:\n  deviceClass: ophyd_devices.SimMonitor\n  deviceConfig: null\n"
    "  readoutPriority: monitored\n  enabled: true\n"
    for i in range(8)
)


def service_config(path: Path, base_path: Path) -> Path:
    """A services YAML naming the file writer's base path."""
    path.write_text(yaml.safe_dump({"file_writer": {"base_path": str(base_path)}}))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Redis + device server + scan server + file writer for the module's tests."""
    tmp = tmp_path_factory.mktemp("fw-stack")
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    config = write_devices(tmp / "devices.yaml", MONITORS)
    services = service_config(tmp / "services.yaml", tmp / "data")
    ds = device_server(redis.url, config, tmp).start()
    ss = scan_server(redis.url, tmp, services).start()
    fw = Writer(redis.url, tmp, services).start()
    env = {"url": redis.url, "redis": redis, "ds": ds, "ss": ss, "fw": fw, "tmp": tmp, "services": services}
    try:
        yield env
    finally:
        codes = {}
        for name in ("fw", "ss", "ds"):
            proc = env[name]
            if isinstance(proc, (Proc, Writer)):
                codes[name] = proc.stop()
        redis.stop()
        assert codes.get("fw", 0) in (0, -9), (tmp / "fw.log").read_text()[-3000:]


@pytest.fixture
async def conn(stack: dict) -> AsyncIterator[AsyncRedisConnector]:
    """A client connection once all servers run."""
    connector = await AsyncRedisConnector(stack["url"]).connect()
    try:
        await wait_services(connector, ["ScanServer", "DeviceServer", "FileWriterManager"])
        yield connector
    finally:
        await connector.close()


@pytest.fixture
async def rec(conn: AsyncRedisConnector) -> Recorder:
    """Records what a client sees."""
    return await Recorder(conn).follow(**all_endpoints())
