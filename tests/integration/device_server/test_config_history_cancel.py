"""Config requests as stock answers them: ``reload``, ``cancel`` (from stock's ``ConfigHelper``) and the
config history on stock's endpoint (``info/devices/config_history``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bec_device_server.sim.testing import SimFailing
from dshelpers import DEADLINE, device_set
from test_scans_rpc_config import config_request
from waiting import until

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

SLOW = {
    "slow": {
        "deviceClass": "bec_device_server.sim.testing.SimFailing",
        "deviceConfig": {"hang_on": ["connect"]},
        "readoutPriority": "monitored",
        "enabled": True,
        "connectionTimeout": 60,
    }
}


def names(config: Any) -> set[str]:
    return {d["name"] for d in config.resource}


async def test_reload_is_answered_and_announced_without_rebuilding(
    start_server: Any, stop_servers: None, conn: AsyncRedisConnector
) -> None:
    server = await start_server()
    before = server.devices.entries["samx"].obj
    response = await config_request(conn, "reload", {}, "rid-reload")  # also checks the announcement
    assert response.accepted and response.metadata["RID"] == "rid-reload"
    acks = await conn.lrange(MessageEndpoints.service_response("rid-reload"), 0, -1)
    assert [a.response["service"] for a in acks] == ["DeviceServer"]
    assert server.devices.entries["samx"].obj is before  # stock's device server rebuilds nothing
    assert await conn.lrange(MessageEndpoints.device_config_history(), 0, -1) == []


async def test_each_set_keeps_the_replaced_config_in_the_history_newest_first(
    start_server: Any, stop_servers: None, conn: AsyncRedisConnector
) -> None:
    server = await start_server()
    server.settings.device_server.config_history_size = 2
    first = names(await conn.get(MessageEndpoints.device_config()))
    raw = device_set()
    small = {"samx": raw["samx"], "bpm4i": raw["bpm4i"]}
    assert (await config_request(conn, "set", small, "rid-1")).accepted
    assert (await config_request(conn, "set", {"samx": raw["samx"]}, "rid-2")).accepted
    history = await conn.lrange(MessageEndpoints.device_config_history(), 0, -1)
    assert [names(h) for h in history] == [{"samx", "bpm4i"}, first]
    assert [h.metadata["RID"] for h in history] == ["rid-2", "rid-1"]
    assert all(h.metadata["action"] == "set" and h.metadata["removed_at"] > 0 for h in history)
    assert (await config_request(conn, "reset", {}, "rid-3")).accepted
    history = await conn.lrange(MessageEndpoints.device_config_history(), 0, -1)
    assert [h.metadata["RID"] for h in history] == ["rid-3", "rid-2"]  # bounded to the setting
    assert names(history[0]) == {"samx"} and names(await conn.get(MessageEndpoints.device_config())) == set()


async def test_cancel_from_stock_config_helper_stops_a_running_set(
    start_server: Any, stop_servers: None, conn: AsyncRedisConnector, clean_redis: str
) -> None:
    from bec_lib.bec_errors import DeviceConfigError
    from bec_lib.config_helper import ConfigHelper
    from bec_lib.redis_connector import RedisConnector

    server = await start_server()
    old = names(await conn.get(MessageEndpoints.device_config()))
    SimFailing.connect_release.clear()
    stock = RedisConnector(clean_redis.removeprefix("redis://").rstrip("/"))
    try:
        await conn.send(
            MessageEndpoints.device_config_request(),
            messages.DeviceConfigMessage(action="set", config=SLOW, metadata={"RID": "rid-slow"}),
        )

        async def applying() -> bool:
            active = server.config_requests._active
            return active is not None and active[1].metadata["RID"] == "rid-slow"

        assert await until(applying, DEADLINE), "the set never started"
        helper = ConfigHelper(stock)
        with pytest.raises(DeviceConfigError, match="cancelled by user"):
            await asyncio.to_thread(helper.send_config_request, "cancel", None, True, DEADLINE)
        reply = await conn.get(MessageEndpoints.device_config_request_response("rid-slow"))
        assert reply is not None and not reply.accepted and "Request was cancelled" in reply.message
        assert reply.metadata["updated_config"] is True  # stock's client: "kept in the history"
        assert names(await conn.get(MessageEndpoints.device_config())) == set()
        assert server.devices.entries == {}
        history = await conn.lrange(MessageEndpoints.device_config_history(), 0, -1)
        assert names(history[0]) == old and history[0].metadata["RID"] == "rid-slow"
        # nothing running: the cancel is still answered, accepted (stock's SciHub)
        with pytest.raises(DeviceConfigError, match="cancelled by user"):
            await asyncio.to_thread(helper.send_config_request, "cancel", None, True, DEADLINE)
        # and the server takes the next request
        assert (await config_request(conn, "set", {"samx": device_set()["samx"]}, "rid-after")).accepted
    finally:
        SimFailing.connect_release.set()
        stock.shutdown()
