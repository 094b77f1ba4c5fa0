"""Signals whose ``get()`` raises a value event (ophyd_devices' SimMonitor computes its value on every
read): the server's own reads publish their readings and do not start readback publications of their
own, which would each read again and schedule the next one, forever."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dshelpers import DEADLINE, Requester

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from waiting import until

DEVICES = {
    "samx": {
        "deviceClass": "ophyd_devices.SimPositioner",
        "deviceConfig": {"delay": 0, "limits": [-50, 50], "tolerance": 0.01},
        "readoutPriority": "baseline",
        "enabled": True,
    },
    "bpm": {
        "deviceClass": "ophyd_devices.SimMonitor",
        "deviceConfig": {},
        "readoutPriority": "monitored",
        "enabled": True,
    },
}


async def test_reads_of_a_value_event_signal_leave_the_throttle_idle(
    start_server: Any, stop_servers: None, requester: Requester, conn: AsyncRedisConnector
) -> None:
    server = await start_server(DEVICES)
    server.throttle.period = 0.001  # 1000 Hz: a self-renewing publication loop would never rest
    events: list[Any] = []
    obj = server.devices.entries["bpm"].obj
    obj.subscribe(lambda *_a, **kw: events.append(kw.get("value")), event_type=obj.SUB_VALUE, run=False)
    for value in (1.0, 2.0, 3.0):
        assert (await requester.request("samx", "set", {"value": value})).status == "completed"
        assert (await requester.request("bpm", "read")).status == "completed"
    assert events, "the monitor raised value events while it was read"
    readback = await conn.get(MessageEndpoints.device_readback("bpm"))
    assert readback is not None and "bpm" in readback.signals  # the read's own publication

    async def quiet() -> bool:
        return not server.throttle.busy

    assert await until(quiet, DEADLINE)  # before: a readback every millisecond, for ever
    published = server.throttle.published
    assert (await requester.request("bpm", "read")).status == "completed"
    assert await until(quiet, DEADLINE)
    assert server.throttle.published == published
