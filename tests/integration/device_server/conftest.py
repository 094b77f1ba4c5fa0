"""Fixtures: a device server run in-process in the test's event loop, and a requester."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from bec_device_server.config import validate_devices
from bec_device_server.server import DeviceServer
from dshelpers import Requester, RunningServer, device_set, settings_for

from bec_core.redis_connector import AsyncRedisConnector


@pytest.fixture
def start_server(clean_redis: str) -> Callable[..., Any]:
    """``await start_server(devices=None, **timeouts)`` → a running server; stopped after the test."""
    running: list[RunningServer] = []

    async def start(
        devices: dict[str, Any] | None = None, consumer: str | None = None, **kw: Any
    ) -> DeviceServer:
        configs = validate_devices(devices if devices is not None else device_set(), "test")
        settings = settings_for(clean_redis, **kw)
        srv = RunningServer(DeviceServer(settings, configs, consumer=consumer))
        running.append(srv)
        await srv.start()
        return srv.server

    start.running = running  # type: ignore[attr-defined]
    return start


@pytest.fixture
async def stop_servers(start_server: Any) -> AsyncIterator[None]:
    """Stops every server started by ``start_server`` at the end of the test."""
    yield
    for srv in start_server.running:
        if srv.task is not None and not srv.task.done():
            await srv.stop()


@pytest.fixture
async def conn(clean_redis: str) -> AsyncIterator[AsyncRedisConnector]:
    connector = await AsyncRedisConnector(clean_redis).connect()
    yield connector
    await connector.close()


@pytest.fixture
async def requester(conn: AsyncRedisConnector) -> Requester:
    return await Requester(conn).start()
