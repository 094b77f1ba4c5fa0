"""A ``deviceConfig`` update applies to the live device and merges into the stored keys, as stock.

Stock BEC's ``dev.samx.limits = [-50, 50]`` sends ``update {"samx": {"deviceConfig": {"limits":
[...]}}}``; stock applies it to the live object. Rebuilding the device from only that key
reset the ophyd_devices SimPositioner's ``tolerance`` (0.01 → 0.5) and ``update_frequency``,
and a following ``umv`` ended up to 0.5 away from its target (e2e ``test_mv_scan_mv``).
"""

from __future__ import annotations

from typing import Any

import pytest
from dshelpers import Requester
from test_scans_rpc_config import config_request

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.usefixtures("stop_servers")

MOTOR = {
    "samx": {
        "deviceClass": "ophyd_devices.SimPositioner",
        "deviceConfig": {"delay": 1, "limits": [-50, 50], "tolerance": 0.01, "update_frequency": 400},
        "readoutPriority": "baseline",
        "enabled": True,
    }
}


async def test_limits_update_keeps_the_other_keys_and_the_object(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    server = await start_server(devices=MOTOR)
    obj = server.devices.entries["samx"].obj
    assert obj.tolerance.get() == 0.01
    assert (await requester.request("samx", "set", {"value": 3.0})).status == "completed"

    response = await config_request(conn, "update", {"samx": {"deviceConfig": {"limits": [-40, 40]}}}, "r1")
    assert response.accepted, response.message

    entry = server.devices.entries["samx"]
    assert entry.obj is obj  # applied in place, not rebuilt
    assert obj.tolerance.get() == 0.01 and obj.update_frequency == 400
    assert obj.limits == (-40, 40)
    assert abs(obj.readback.get() - 3.0) <= 0.01  # the position survived
    assert entry.config.deviceConfig == {**MOTOR["samx"]["deviceConfig"], "limits": [-40, 40]}
    stored = {d["name"]: d for d in (await conn.get(MessageEndpoints.device_config())).resource}
    assert stored["samx"]["deviceConfig"]["tolerance"] == 0.01
    assert stored["samx"]["deviceConfig"]["limits"] == [-40, 40]
    limits = await conn.get(MessageEndpoints.device_limits("samx"))
    assert limits.signals["high"]["value"] == 40.0

    # a move now ends within the configured tolerance, and a read sees it
    assert (await requester.request("samx", "set", {"value": 10.0})).status == "completed"
    reply = await requester.request("samx", "read", {"return_result": True})
    assert reply.status == "completed"
    assert abs(reply.result["samx"]["samx"]["value"] - 10.0) <= 0.01


async def test_bad_key_is_refused_and_the_old_config_stays(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    server = await start_server(devices=MOTOR)
    obj = server.devices.entries["samx"].obj
    response = await config_request(
        conn, "update", {"samx": {"deviceConfig": {"tolerance": 0.2, "no_such_key": 1}}}, "r2"
    )
    assert not response.accepted
    assert "samx" in response.message and "no_such_key" in response.message
    assert server.devices.entries["samx"].obj is obj
    assert obj.tolerance.get() == 0.01  # restored
    assert server.devices.entries["samx"].config.deviceConfig == MOTOR["samx"]["deviceConfig"]
    assert (await requester.request("samx", "read")).status == "completed"
