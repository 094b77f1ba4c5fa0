"""Staging hooks on scan status, device RPC, runtime config changes, shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dshelpers import DEADLINE, Requester, device_set

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps

pytestmark = pytest.mark.usefixtures("stop_servers")

CAMERA = {
    "eiger": {
        "deviceClass": "bec_device_server.sim.SimCamera",
        "deviceConfig": {"image_shape": [8, 8]},
        "readoutPriority": "async",
        "softwareTrigger": True,
        "enabled": True,
    }
}
NEW_MONITOR = {
    "bpm9": {
        "deviceClass": "bec_device_server.sim.SimMonitor",
        "readoutPriority": "monitored",
        "enabled": True,
    }
}

#: NEW_MONITOR plus a device whose constructor raises.
WITH_BROKEN = {
    **NEW_MONITOR,
    "broken": {
        "deviceClass": "bec_device_server.sim.SimFailing",
        "deviceConfig": {"fail_on": ["init"]},
        "readoutPriority": "monitored",
        "enabled": True,
    },
}


async def wait_staged(conn: AsyncRedisConnector, name: str, value: int) -> None:
    """Wait for the staged key of ``name`` to become ``value`` (deadline DEADLINE)."""
    async with asyncio.timeout(DEADLINE):
        while True:
            msg = await conn.get(MessageEndpoints.device_staged(name))
            if msg is not None and msg.status == value:
                return
            await conn.redis.execute_command("WAIT", 0, 10)  # a round trip, not a sleep


def scan_status(status: str, scan_id: str = "scan-1") -> messages.ScanStatusMessage:
    return messages.ScanStatusMessage(
        scan_id=scan_id,
        status=status,
        num_points=5,
        readout_priority={
            "monitored": ["bpm4i", "samx"],
            "baseline": ["samy"],
            "async": ["eiger"],
            "on_request": [],
        },
        scan_parameters={"exp_time": 0.25, "frames_per_trigger": 2},
        info={},
    )


async def test_scan_status_stages_and_unstages(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    srv = await start_server(device_set(**CAMERA))
    assert (await requester.request("samx", "stage")).status == "completed"  # explicit stage first
    await conn.set_and_publish(MessageEndpoints.scan_status(), scan_status("open"))
    for name in ("bpm4i", "samy", "eiger"):
        await wait_staged(conn, name, 1)
    eiger = srv.devices.get("eiger").obj
    assert eiger.exp_time.get() == 0.25 and eiger.frames.get() == 2  # on_scan_open got scan_parameters
    assert srv.devices.get("samx").staged and srv.devices.get("samx").obj._staged.name == "yes"
    assert not srv.devices.get("diode").staged
    await conn.set_and_publish(MessageEndpoints.scan_status(), scan_status("closed"))
    for name in ("bpm4i", "samy", "eiger", "samx"):
        await wait_staged(conn, name, 0)


async def test_stage_gives_devices_their_scan_info_whether_or_not_the_status_was_published(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """A stage instruction for a scan makes the devices' ``scan_info`` that scan's: from the status
    published after it (it waits for it), or, when none is published, from the status key."""
    srv = await start_server(device_set())
    facade = srv.devices.facade
    key = MessageEndpoints.scan_status().endpoint
    await conn.redis.set(key, dumps(scan_status("open", "only-in-key")))  # not published
    reply = await requester.request("samx", "stage", scan_id="only-in-key")
    assert reply.status == "completed", reply
    assert facade.scan_info.msg.scan_id == "only-in-key"
    sent = await requester.send("samy", "stage", scan_id="published-after")
    await conn.set_and_publish(MessageEndpoints.scan_status(), scan_status("open", "published-after"))
    assert (await requester.reply(sent, DEADLINE)).status == "completed"
    assert facade.scan_info.msg.scan_id == "published-after"
    assert srv.scans._awaited == {}  # no waiter left behind either way


async def test_rpc_calls_and_refusals(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()

    async def rpc(
        func: str, *args: Any, device: str = "samx", **kwargs: Any
    ) -> tuple[Any, messages.DeviceRPCMessage]:
        rpc_id = f"rpc-{func}-{len(args)}"
        reply = await requester.request(
            device,
            "rpc",
            {"device": device, "func": func, "rpc_id": rpc_id, "args": list(args), "kwargs": kwargs},
            RID="rid-rpc",
            response=True,
        )
        return reply, await conn.get(MessageEndpoints.device_rpc(rpc_id))

    reply, stored = await rpc("velocity.get")
    assert reply.status == "completed" and reply.result == 100.0
    assert stored.return_val == 100.0 and stored.success and stored.out == ""
    assert 0 < await conn.redis.ttl("info/devices/rpc/rpc-velocity.get-0") <= 1800
    reply, _ = await rpc("limits")
    assert reply.result == [-50.0, 50.0]
    reply, _ = await rpc("set", 4.0)
    assert reply.result["type"] == "status" and reply.result["RID"] == "rid-rpc"
    status = await conn.xread(
        MessageEndpoints.device_req_status("rid-rpc"), from_start=True, block=int(DEADLINE * 1000)
    )
    assert status and status[0]["data"].success
    reply, stored = await rpc("read")
    assert reply.result["samx"]["value"] == 4.0
    assert (await conn.get(MessageEndpoints.device_readback("samx"))).signals["samx"]["value"] == 4.0
    reply, _ = await rpc("precision", 5, _set_property=True)
    assert reply.status == "error" and "not a settable property" in reply.error_info.error_message
    for func, why in [
        ("_set_position", "private"),
        ("readback._readback", "private"),
        ("__class__", "private"),
        ("log.manager", "not a device component"),
        ("nothing", "has no attribute"),
    ]:
        reply, stored = await rpc(func)
        assert reply.status == "error" and why in reply.error_info.error_message, func
        assert stored.success is False and why in stored.out["error_message"]
    reply = await requester.request("samx", "rpc", {"device": "samx", "func": "read"})
    assert reply.status == "error" and "rpc_id" in reply.error_info.error_message


async def config_request(
    conn: AsyncRedisConnector, action: str, config: dict, rid: str
) -> messages.RequestResponseMessage:
    async with conn.subscribe(MessageEndpoints.device_config_update()) as updates:
        await conn.send(
            MessageEndpoints.device_config_request(),
            messages.DeviceConfigMessage(action=action, config=config, metadata={"RID": rid}),
        )
        async with asyncio.timeout(DEADLINE):
            while (response := await conn.get(MessageEndpoints.device_config_request_response(rid))) is None:
                await conn.redis.execute_command("WAIT", 0, 10)  # a round trip, not a sleep
        if response.accepted:
            update = await updates.get(timeout=DEADLINE)
            announced = "reload" if action in ("set", "reset", "reload") else action  # as stock's SciHub
            assert update.value.action == announced and update.value.metadata["RID"] == rid
    return response


async def test_config_add_update_remove(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    response = await config_request(conn, "add", NEW_MONITOR, "rid-add")
    assert response.accepted, response.message
    assert (await conn.get(MessageEndpoints.device_info("bpm9"))).device == "bpm9"
    ack = await conn.lrange(MessageEndpoints.service_response("rid-add"), 0, -1)
    assert ack[0].response == {"accepted": True, "service": "DeviceServer"}
    assert "bpm9" in [d["name"] for d in (await conn.get(MessageEndpoints.device_config())).resource]
    assert (await requester.request("bpm9", "read")).status == "completed"

    response = await config_request(
        conn, "update", {"samx": {"deviceConfig": {"delay": 0, "limits": [-5, 5]}}}, "rid-up"
    )
    assert response.accepted, response.message
    limits = await conn.get(MessageEndpoints.device_limits("samx"))
    assert limits.signals["high"]["value"] == 5.0
    assert (await requester.request("samx", "set", {"value": 6})).status == "error"
    response = await config_request(conn, "update", {"samx": {"deviceClass": "ophyd.EpicsMotor"}}, "rid-bad")
    assert not response.accepted and "not updatable" in response.message

    response = await config_request(conn, "remove", {"bpm9": {}}, "rid-rm")
    assert response.accepted
    assert await conn.get(MessageEndpoints.device_info("bpm9")) is None
    reply = await requester.request("bpm9", "read")
    assert reply.status == "error" and "unknown device 'bpm9'" in reply.error_info.error_message


async def test_config_change_rolls_back_when_a_device_fails(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    response = await config_request(conn, "add", WITH_BROKEN, "rid-fail")
    assert not response.accepted and "broken" in response.message and "rolled back" in response.message
    assert await conn.get(MessageEndpoints.device_info("bpm9")) is None
    assert await conn.lrange(MessageEndpoints.service_response("rid-fail"), 0, -1) == []
    typo = await config_request(
        conn, "add", {"bpm8": {"deviceClass": "bec_device_server.sim.SimMonitor", "enabeld": True}}, "r3"
    )
    assert not typo.accepted and "'bpm8'" in typo.message and "enabeld" in typo.message
    response = await config_request(conn, "set", NEW_MONITOR, "rid-set2")
    assert response.accepted
    names = [d["name"] for d in (await conn.get(MessageEndpoints.device_config())).resource]
    assert names == ["bpm9"]
    assert (await requester.request("samx", "read")).status == "error"


async def test_set_with_a_class_that_fails_to_construct_flushes_the_config_as_stock(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    response = await config_request(conn, "set", WITH_BROKEN, "rid-set")
    # stock: rejected, but the session was replaced (updated_config) and is now empty
    assert not response.accepted and response.metadata["updated_config"] is True
    assert "broken" in response.message and "The config will be flushed" in response.message
    assert (await conn.get(MessageEndpoints.device_config())).resource == []
    assert (await requester.request("samx", "read")).status == "error"
    acks = await conn.lrange(MessageEndpoints.service_response("rid-set"), 0, -1)
    assert [a.response["service"] for a in acks] == ["DeviceServer"]


async def test_unreachable_device_is_kept_disabled_and_the_rest_applied(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    unreachable = {
        **NEW_MONITOR,
        "gone": {
            "deviceClass": "bec_device_server.sim.SimFailing",
            "deviceConfig": {"fail_on": ["connect"]},
            "readoutPriority": "baseline",
            "enabled": True,
        },
    }
    response = await config_request(conn, "add", unreachable, "rid-add")
    assert response.accepted and set(response.metadata["failed_devices"]) == {"gone"}
    config = {d["name"]: d for d in (await conn.get(MessageEndpoints.device_config())).resource}
    assert config["gone"]["enabled"] is False and config["bpm9"]["enabled"] is True
    assert (await requester.request("bpm9", "read")).status == "completed"
    for rid in ("rid-enable-1", "rid-enable-2"):  # enabling it again fails, and it stays disabled
        response = await config_request(conn, "update", {"gone": {"enabled": True}}, rid)
        assert not response.accepted and "gone" in response.message
        config = {d["name"]: d for d in (await conn.get(MessageEndpoints.device_config())).resource}
        assert config["gone"]["enabled"] is False
    again = await config_request(conn, "add", {"gone": unreachable["gone"]}, "rid-again")
    assert not again.accepted and "Device gone already exists" in again.message


async def test_shutdown_stops_moving_and_unstages(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    slow = {
        "slowx": {
            "deviceClass": "bec_device_server.sim.SimPositioner",
            "deviceConfig": {"delay": 1, "velocity": 1, "update_frequency": 20},
            "readoutPriority": "baseline",
            "enabled": True,
        }
    }
    srv = await start_server(device_set(**slow))
    assert (await requester.request(["bpm4i", "samx"], "stage")).status == "completed"
    move = await requester.send("slowx", "set", {"value": 30.0})
    obj = srv.devices.get("slowx").obj
    async with conn.subscribe(MessageEndpoints.device_readback("slowx")) as sub:
        await sub.get(timeout=DEADLINE)  # the move started
    running = start_server.running[-1]
    assert await running.stop() == 0
    assert (await requester.reply(move)).status == "error"
    assert obj.position < 30.0 and not obj.moving
    assert (await conn.get(MessageEndpoints.device_staged("bpm4i"))).status == 0
