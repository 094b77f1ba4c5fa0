"""BEC message signals of ophyd_devices devices reach stock's endpoints (real Redis, real devices).

A SimCamera's PreviewSignal frame lands on the ``device_preview`` stream, a SimWaveform's
AsyncSignal data on ``device_async_signal/<scan_id>/...`` with per-scan ``async_indices`` and
its index list, its ProgressSignal on ``device_progress`` with the scan's id and status, and
the camera's FileEventSignal on ``file_event`` / ``public_file``; each is read back with stock
bec_lib's codec (as a stock client reads it) and with ours.

``stage`` is left out: SimCamera's ``on_stage`` needs a scan server's full scan status.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from bec_lib.serialization import MsgpackSerialization
from dshelpers import DEADLINE, Requester
from waiting import POLL_S

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.usefixtures("stop_servers")

DEVICES = {
    "eiger": {
        "deviceClass": "ophyd_devices.SimCamera",
        "deviceConfig": {"device_access": True},
        "readoutPriority": "async",
        "softwareTrigger": True,
        "enabled": True,
    },
    "waveform": {
        "deviceClass": "ophyd_devices.SimWaveform",
        "deviceConfig": {"waveform_shape": 10},
        "readoutPriority": "async",
        "softwareTrigger": True,
        "enabled": True,
    },
}


async def open_scan(conn: AsyncRedisConnector, scan_id: str) -> None:
    """Publish an open scan status, as the scan server does at the scan's start."""
    status = messages.ScanStatusMessage(
        scan_id=scan_id, status="open", info={"scan_number": 1, "num_points": 1}, scan_number=1
    )
    await conn.set_and_publish(MessageEndpoints.scan_status(), status)


async def wait_for(predicate: Any, what: str) -> Any:
    """Poll Redis (round trips, not sleeps) until ``predicate()`` returns something."""
    async with asyncio.timeout(DEADLINE):
        while True:
            result = await predicate()
            if result:
                return result
            await asyncio.sleep(0)  # yield; the predicate itself is a Redis round trip


async def test_preview_async_progress_and_file_events(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    server = await start_server(devices=DEVICES)
    scan_id = "scan-bec-signals"
    await open_scan(conn, scan_id)
    facade = server.devices.facade
    await wait_for(
        lambda: asyncio.sleep(0, getattr(facade.scan_info.msg, "scan_id", None) == scan_id), "scan info"
    )
    server.devices.entries["eiger"].obj.image_shape.set([10, 10]).wait(timeout=2)

    for _ in range(2):
        reply = await requester.request(["eiger", "waveform"], "trigger")
        assert reply.status == "completed", reply.error_info

    # preview: a STREAM read the way the stock client reads it (get_last = XREVRANGE COUNT 1)
    preview_key = MessageEndpoints.device_preview("eiger", "preview").endpoint

    async def last_preview() -> Any:
        rows = await conn.redis.xrevrange(preview_key, count=1)
        return rows[0][1] if rows else None

    fields = await wait_for(last_preview, "a preview frame")
    stock_msg = MsgpackSerialization.loads(fields[b"data"])
    assert type(stock_msg).__name__ == "DevicePreviewMessage"
    assert stock_msg.data.shape == (10, 10) and stock_msg.signal == "preview"
    ours = await conn.xread(MessageEndpoints.device_preview("eiger", "preview"), from_start=True)
    assert isinstance(ours[-1]["data"], messages.DevicePreviewMessage)
    assert 0 < await conn.redis.ttl(preview_key) <= 3600

    # async data: two triggers, ten values each ("add"), indices 0 and 1
    stream = MessageEndpoints.device_async_signal(scan_id, "waveform", "waveform_data").endpoint

    async def two_async() -> Any:
        rows = await conn.redis.xrange(stream)
        return rows if len(rows) >= 2 else None

    rows = await wait_for(two_async, "two async updates")
    first, second = (MsgpackSerialization.loads(r[1][b"data"]) for r in rows[:2])
    assert first.metadata["async_indices"] == {"waveform_data": 0}
    assert second.metadata["async_indices"] == {"waveform_data": 1}
    assert first.metadata["async_update"]["type"] == "add"
    assert np.asarray(first.signals["waveform_data"]["value"]).shape == (10,)
    index_key = f"info/devices/async_signal_index/{scan_id}/waveform/waveform_data"
    index = [MsgpackSerialization.loads(r) for r in await conn.redis.lrange(index_key, 0, -1)]
    assert [i.indices for i in index[:2]] == [{"waveform_data": 0}, {"waveform_data": 1}]
    assert index[0].shapes == {"waveform_data": [10]}

    # progress: the latest value, stamped with the scan
    async def progress() -> Any:
        msg = await conn.get(MessageEndpoints.device_progress("waveform"))
        return msg if msg is not None and msg.value == 2 else None

    prog = await wait_for(progress, "progress 2")
    assert prog.metadata["scan_id"] == scan_id and prog.metadata["status"] == "open"

    # file events: a detector announces its file (SimCamera does it at stage when writing to disk)
    camera = server.devices.entries["eiger"].obj
    await asyncio.to_thread(camera.file_event.put, file_path="/tmp/eiger_1.h5", done=True, successful=True)
    event = await wait_for(lambda: conn.get(MessageEndpoints.file_event("eiger")), "file event")
    assert isinstance(event, messages.FileMessage)
    public = await conn.get(MessageEndpoints.public_file(scan_id, "eiger"))
    assert public is not None and public.file_path == event.file_path == "/tmp/eiger_1.h5"

    assert server.bec_signals is not None and server.bec_signals.stats.errors == 0


async def test_async_data_outside_a_scan_is_not_published(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    server = await start_server(devices=DEVICES)
    reply = await requester.request("waveform", "trigger")
    assert reply.status == "completed"
    publisher = server.bec_signals
    assert publisher is not None
    async with asyncio.timeout(DEADLINE):
        while publisher.stats.refused < 1:  # the waveform's async put was seen and refused
            await asyncio.sleep(POLL_S)
    assert await conn.redis.keys("info/devices/async_signal/*") == []


async def test_async_data_sent_at_complete_is_in_redis_when_complete_answers(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """A SimMonitorAsync sends its buffered readings in complete(); the file writer reads the async
    streams to their end once the scan has ended (after complete's reply), so they must be in Redis
    by the time complete answers, not a publisher batch later."""
    server = await start_server(
        devices={
            "monitor_async": {
                **DEVICES["waveform"],
                "deviceClass": "ophyd_devices.sim.sim_monitor.SimMonitorAsync",
                "deviceConfig": {},
            }
        }
    )
    scan_id = "scan-async-complete"
    await open_scan(conn, scan_id)
    facade = server.devices.facade
    await wait_for(
        lambda: asyncio.sleep(0, getattr(facade.scan_info.msg, "scan_id", None) == scan_id), "scan info"
    )
    server.devices.entries["monitor_async"].obj._random_send_interval = 1000  # all sent at complete
    for _ in range(3):
        reply = await requester.request("monitor_async", "trigger")
        assert reply.status == "completed", reply.error_info
    reply = await requester.request("monitor_async", "complete")
    assert reply.status == "completed", reply.error_info
    stream = MessageEndpoints.device_async_signal(scan_id, "monitor_async", "monitor_async_data").endpoint
    rows = await conn.redis.xrange(stream)  # at once: no waiting after the reply
    values = [
        v
        for r in rows
        for v in MsgpackSerialization.loads(r[1][b"data"]).signals["monitor_async_data"]["value"]
    ]
    assert len(values) == 3
