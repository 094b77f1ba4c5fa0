"""DAPServer in-process against a real redis-server, fed scan data in the shape bec-core's scan server
stores and publishes it (info/public/<id>/scan_info, .../scan_segment/<n>, info/scans/scan_segment)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from bec_dap.server import SERVICE_NAME, DAPServer
from waiting import until

from bec_core.config import load_settings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AvailableResourceMessage,
    BECStatus,
    BundleMessage,
    DAPRequestMessage,
    DAPResponseMessage,
    ScanMessage,
    ScanStatusMessage,
)
from bec_core.redis_connector import AsyncRedisConnector

DEADLINE = 20.0
CENTER = 2.5


def point(scan_id: str, i: int, x: float) -> ScanMessage:
    y = 100 * np.exp(-((x - CENTER) ** 2) / 2) + (i % 3)  # a small deterministic ripple
    return ScanMessage(
        point_id=i,
        scan_id=scan_id,
        data={
            "samx": {"samx": {"value": x, "timestamp": 1.0}, "samx_setpoint": {"value": x, "timestamp": 1.0}},
            "bpm4i": {"bpm4i": {"value": y, "timestamp": 1.0}},
        },
        metadata={"scan_report_devices": ["samx"]},
    )


def status(scan_id: str, state: str, n: int) -> ScanStatusMessage:
    return ScanStatusMessage(
        scan_id=scan_id, status=state, num_points=n, scan_report_devices=["samx"], info={}
    )


async def store_scan(conn: AsyncRedisConnector, scan_id: str, xs: np.ndarray, state: str = "closed") -> None:
    """What the scan server leaves in Redis for a scan."""
    await conn.set(MessageEndpoints.public_scan_info(scan_id), status(scan_id, state, len(xs)))
    for i, x in enumerate(xs):
        await conn.set(MessageEndpoints.public_scan_segment(scan_id, i), point(scan_id, i, float(x)))


@contextlib.asynccontextmanager
async def running_dap(url: str) -> AsyncIterator[tuple[DAPServer, AsyncRedisConnector]]:
    """A DAPServer in this process, yielded once its heartbeat says RUNNING; stopped (exit 0) after."""
    conn = await AsyncRedisConnector(url).connect()
    server = DAPServer(load_settings(None, env={}, overrides={"redis": {"url": url}}))
    running = asyncio.Event()

    async def on_beat(msg: Any) -> None:
        if msg.value.status == BECStatus.RUNNING:
            running.set()

    await conn.register(MessageEndpoints.service_status(SERVICE_NAME), on_beat)
    task = asyncio.create_task(server.run())
    try:
        await asyncio.wait_for(running.wait(), DEADLINE)
        yield server, conn
    finally:
        server.request_stop()
        assert await asyncio.wait_for(task, DEADLINE) == 0
        await conn.close()


@pytest.fixture
async def dap(clean_redis: str) -> AsyncIterator[tuple[DAPServer, AsyncRedisConnector]]:
    async with running_dap(clean_redis) as both:
        yield both


async def ask(conn: AsyncRedisConnector, config: dict, dap_type: str = "on_demand") -> DAPResponseMessage:
    rid = str(uuid.uuid4())
    async with conn.subscribe(MessageEndpoints.dap_response(rid)) as sub:
        await conn.set_and_publish(
            MessageEndpoints.dap_request(),
            DAPRequestMessage(
                dap_cls="LmfitService1D", dap_type=dap_type, config=config, metadata={"RID": rid}
            ),
        )
        msg = await asyncio.wait_for(anext(sub), DEADLINE)
    assert msg.value.metadata["RID"] == rid
    return msg.value


def fit_config(*args: Any, **kwargs: Any) -> dict:
    return {
        "args": list(args),
        "kwargs": kwargs,
        "class_args": [],
        "class_kwargs": {"model": "GaussianModel"},
    }


async def test_models_are_announced_before_running(dap) -> None:
    _, conn = dap
    plugins = await conn.get(MessageEndpoints.dap_available_plugins(SERVICE_NAME))
    assert isinstance(plugins, AvailableResourceMessage)
    assert plugins.resource["GaussianModel"]["class_kwargs"] == {"model": "GaussianModel"}


async def test_a_scan_that_ended_before_the_service_started_can_be_fitted(clean_redis: str) -> None:
    # stock's DAP knows only scans it saw running; bec-dap reads any scan still in Redis
    conn = await AsyncRedisConnector(clean_redis).connect()
    await store_scan(conn, "early", np.linspace(0, 5, 41))
    await conn.close()
    async with running_dap(clean_redis) as (_, conn):
        response = await ask(conn, fit_config("early", "samx", None, "bpm4i"))
    assert response.success, response.error
    report = response.data[1]
    assert report["fit_parameters"]["center"] == pytest.approx(CENTER, abs=0.05)
    assert report["input"]["signal_x"] == "samx"  # the signal named like the device


async def test_a_scan_with_more_points_than_planned_is_read_whole(dap) -> None:
    _, conn = dap
    xs = np.linspace(0, 5, 30)
    await store_scan(conn, "long", xs)
    await conn.set(MessageEndpoints.public_scan_info("long"), status("long", "closed", 20))  # planned 20
    response = await ask(conn, fit_config("long", "samx", "samx", "bpm4i", "bpm4i"))
    assert response.success, response.error
    assert len(response.data[0]["x"]) == 30


async def test_continuous_fit_started_mid_scan_uses_the_stored_points_and_bundles(dap) -> None:
    _server, conn = dap
    xs = np.linspace(0, 5, 40)
    scan_id = "running"
    await conn.set_and_publish(MessageEndpoints.scan_status(), status(scan_id, "open", len(xs)))
    await store_scan(conn, scan_id, xs[:20], state="open")
    await conn.set(MessageEndpoints.public_scan_info(scan_id), status(scan_id, "open", len(xs)))
    results: asyncio.Queue[Any] = asyncio.Queue()

    async def on_fit(msg: Any) -> None:
        await results.put(msg.value)

    await conn.register(MessageEndpoints.processed_data("GaussianModel"), on_fit, from_start=True)
    config = {
        "selected_device": ["bpm4i", "bpm4i"],
        "auto_run": True,
        "class_args": [],
        "class_kwargs": {"model": "GaussianModel"},
    }
    assert (await ask(conn, config, dap_type="continuous")).success
    first = await asyncio.wait_for(results.get(), DEADLINE)
    assert first.metadata["input"]["num_points"] == 20  # the points stored before the request
    # the rest arrives as one bundle on the segment channel, then the scan closes
    bundle = BundleMessage(messages=[point(scan_id, i, float(xs[i])) for i in range(20, 40)])
    for i in range(20, 40):
        await conn.set(MessageEndpoints.public_scan_segment(scan_id, i), point(scan_id, i, float(xs[i])))
    await conn.send(MessageEndpoints.scan_segment().endpoint, bundle)  # stock's bundler sends bundles
    await conn.set_and_publish(MessageEndpoints.scan_status(), status(scan_id, "closed", len(xs)))
    while True:
        msg = await asyncio.wait_for(results.get(), DEADLINE)
        if msg.metadata["input"]["num_points"] == 40:
            break
    assert msg.metadata["fit_parameters"]["center"] == pytest.approx(CENTER, abs=0.05)
    # two publications were seen above (20 points, then 40); the service's own counter is
    # incremented after its write returns, so it may lag the reader by one here


async def test_a_wrong_message_type_on_the_request_channel_is_ignored(dap) -> None:
    server, conn = dap
    await conn.raw_send(MessageEndpoints.dap_request().endpoint, b"garbage")
    await conn.set_and_publish(MessageEndpoints.dap_request().endpoint, status("x", "open", 1))
    response = await ask(conn, fit_config(data_x=[1, 2, 3, 4, 5], data_y=[1, 4, 9, 4, 1]))
    assert response.success
    assert server.requests.answered >= 1


async def test_models_are_published_again_after_redis_restarts_empty(own_redis) -> None:
    async with running_dap(own_redis.url) as (_, conn):
        own_redis.stop()
        own_redis.start()  # no persistence: the key is gone
        await conn.wait_reconnected(DEADLINE)

        async def published() -> bool:
            return await conn.get(MessageEndpoints.dap_available_plugins(SERVICE_NAME)) is not None

        assert await until(published, DEADLINE)  # the SET follows the service's own reconnection
        response = await ask(conn, fit_config(data_x=[1, 2, 3, 4, 5], data_y=[1, 4, 9, 4, 1]))
        assert response.success


async def test_a_scan_without_points_yet_says_so(dap) -> None:
    _, conn = dap
    await conn.set(MessageEndpoints.public_scan_info("empty"), status("empty", "open", 10))
    response = await ask(conn, fit_config("empty", "samx", "samx", "bpm4i", "bpm4i"))
    assert response.success is False
    assert response.error == "scan 'empty' has no data points (yet)"
    no_scan_yet = await ask(conn, fit_config(device_y="bpm4i"))  # no scan given, none has run
    assert no_scan_yet.error == "no scan given and no scan has run yet"
