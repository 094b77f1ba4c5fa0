"""Start-up publications and every action through the instruction stream."""

from __future__ import annotations

from typing import Any

import pytest
from dshelpers import DEADLINE, Requester, device_set

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.usefixtures("stop_servers")

SLOW = {
    "slowx": {
        "deviceClass": "bec_device_server.sim.SimPositioner",
        "deviceConfig": {"delay": 1, "velocity": 20, "update_frequency": 200, "limits": [-50, 50]},
        "readoutPriority": "baseline",
        "enabled": True,
    },
    "slowy": {
        "deviceClass": "bec_device_server.sim.SimPositioner",
        "deviceConfig": {"delay": 1, "velocity": 20, "update_frequency": 200},
        "readoutPriority": "baseline",
        "enabled": True,
    },
}
CAMERA = {
    "eiger": {
        "deviceClass": "bec_device_server.sim.SimCamera",
        "deviceConfig": {"image_shape": [8, 8]},
        "readoutPriority": "async",
        "softwareTrigger": True,
        "enabled": True,
    }
}


async def test_startup_publications(start_server: Any, conn: AsyncRedisConnector) -> None:
    await start_server()
    config = await conn.get(MessageEndpoints.device_config())
    assert isinstance(config, messages.AvailableResourceMessage)
    names = [d["name"] for d in config.resource]
    assert names == ["samx", "samy", "bpm4i", "bpm4a", "bpm3i", "diode"]
    assert config.resource[0]["deviceClass"] == "bec_device_server.sim.SimPositioner"
    for name in names:
        info = await conn.get(MessageEndpoints.device_info(name))
        assert isinstance(info, messages.DeviceInfoMessage) and info.device == name
        assert {"device_base_class", "signals", "hints", "describe", "custom_user_access"} <= set(info.info)
        read = await conn.get(MessageEndpoints.device_read(name))
        assert name in read.signals
        assert (await conn.get(MessageEndpoints.device_readback(name))).signals == read.signals
        assert isinstance(
            await conn.get(MessageEndpoints.device_read_configuration(name)), messages.DeviceMessage
        )
    info = (await conn.get(MessageEndpoints.device_info("samx"))).info
    assert info["device_base_class"] == "positioner" and info["hints"] == {"fields": ["samx"]}
    limits = await conn.get(MessageEndpoints.device_limits("samx"))
    assert limits.signals == {"low": {"value": -50.0}, "high": {"value": 50.0}}
    status = await conn.get(MessageEndpoints.service_status("DeviceServer"))
    assert status.status == messages.BECStatus.RUNNING


async def test_read_publishes_read_and_readback(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    async with conn.subscribe(MessageEndpoints.device_read("bpm4i")) as sub:
        reply = await requester.request(
            ["bpm4i", "samx"], "read", {"return_result": True}, scan_id="s1", point_id=3
        )
        published = await sub.get(timeout=DEADLINE)
    assert reply.status == "completed" and reply.error_info is None
    assert set(reply.result) == {"bpm4i", "samx"}
    assert reply.result["bpm4i"]["bpm4i"]["value"] == 1000.0  # Gaussian peak at samx = 0, no noise
    assert published.value.metadata["point_id"] == 3
    assert published.value.signals == reply.result["bpm4i"]
    cached = await conn.get(MessageEndpoints.device_readback("samx"))
    assert cached.signals == reply.result["samx"] and cached.metadata["scan_id"] == "s1"
    plain = await requester.request("bpm4a", "read")
    assert plain.status == "completed" and plain.result is None


async def test_set_waits_and_writes_req_status(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server()
    reply = await requester.request("samx", "set", {"value": 2.5}, RID="rid-1", response=True)
    assert reply.status == "completed"
    assert (await conn.get(MessageEndpoints.device_readback("samx"))).signals["samx"]["value"] == 2.5
    entry = await conn.get_last(MessageEndpoints.device_req_status("rid-1"))
    assert isinstance(entry, messages.DeviceReqStatusMessage)
    assert entry.device == "samx" and entry.success and entry.request_id == "rid-1"
    assert entry.metadata["action"] == "set"
    ttl = await conn.redis.ttl("info/devices/req_status/rid-1")
    assert 0 < ttl <= 3600
    both = await requester.request(["samx", "samy"], "set", {"values": {"samx": 1, "samy": -1}})
    assert both.status == "completed"
    read = await requester.request(["samx", "samy"], "read", {"return_result": True})
    assert read.result["samx"]["samx"]["value"] == 1 and read.result["samy"]["samy"]["value"] == -1
    sub = await requester.request("samx.velocity", "set", {"value": 7})
    assert sub.status == "completed"
    cfg = await requester.request("samx", "rpc", {"device": "samx", "func": "velocity.get", "rpc_id": "v1"})
    assert cfg.result == 7


async def test_timed_move_throttles_readbacks_and_keeps_final(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server(device_set(**SLOW))
    seen: list[float] = []
    async with conn.subscribe(MessageEndpoints.device_readback("slowx")) as sub:
        reply = await requester.request("slowx", "set", {"value": 4.0})  # 0.2 s, 40 ticks at 200 Hz
        assert reply.status == "completed"
        while not seen or seen[-1] != 4.0:
            seen.append((await sub.get(timeout=DEADLINE)).value.signals["slowx"]["value"])
    assert seen[-1] == 4.0
    assert len(seen) < 40  # 20 Hz limit: far fewer publications than ophyd events


async def test_many_devices_in_one_instruction_run_concurrently(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    srv = await start_server(device_set(**SLOW))
    events: list[str] = []
    for name in ("slowx", "slowy"):
        obj = srv.devices.get(name).obj
        obj.subscribe(lambda *_a, _n=name, **_k: events.append(_n), event_type=obj.SUB_READBACK, run=False)
    reply = await requester.request(["slowx", "slowy"], "set", {"value": 3.0})
    assert reply.status == "completed"
    first_y, last_x = events.index("slowy"), len(events) - 1 - events[::-1].index("slowx")
    assert first_y < last_x  # slowy moved while slowx was still moving


async def test_actions_of_one_device_stay_in_order(start_server: Any, requester: Requester) -> None:
    await start_server(device_set(**SLOW))
    set_id = await requester.send("slowx", "set", {"value": 2.0})
    read_id = await requester.send("slowx", "read", {"return_result": True}, report_running=True)
    read = await requester.reply(read_id)
    assert (await requester.reply(set_id)).status == "completed"
    assert read.result["slowx"]["slowx"]["value"] == 2.0  # the read waited for the move


async def test_trigger_stage_unstage_prescan_complete_kickoff(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    srv = await start_server(device_set(**CAMERA))
    assert (await requester.request("eiger", "trigger")).status == "completed"
    assert srv.devices.get("eiger").obj.frame_number.get() == 1
    for _ in range(2):  # staged once
        assert (await requester.request(["eiger", "samx"], "stage")).status == "completed"
    assert (await conn.get(MessageEndpoints.device_staged("eiger"))).status == 1
    assert srv.devices.get("samx").staged
    assert (await requester.request(None, "pre_scan")).status == "completed"
    assert (await requester.request(None, "complete")).status == "completed"
    assert (await requester.request(["eiger", "samx"], "unstage")).status == "completed"
    assert (await conn.get(MessageEndpoints.device_staged("eiger"))).status == 0
    kick = await requester.request("samx", "kickoff", {"configure": {}})
    assert kick.status == "error" and "kickoff" in kick.error_info.error_message


async def test_stop_ends_a_running_move(start_server: Any, requester: Requester) -> None:
    await start_server(device_set(**SLOW))
    set_id = await requester.send("slowx", "set", {"value": 40.0})  # 2 s
    stop = await requester.request("slowx", "stop", report_running=True)
    moved = await requester.reply(set_id)
    assert stop.status == "completed"
    assert moved.status == "error" and moved.error_info.device == "slowx"
    assert any(r.instruction_id == stop.instruction_id for r in requester.running)


async def test_stop_devices_request(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server(device_set(**SLOW))
    async with conn.subscribe(MessageEndpoints.device_readback("slowy")) as sub:
        set_id = await requester.send("slowy", "set", {"value": 40.0})
        while not (await sub.get(timeout=DEADLINE)).value.signals["slowy"]["value"]:
            pass  # wait for the first readback of the running move
    await conn.send(MessageEndpoints.stop_devices(), messages.VariableMessage(value=["slowy"]))
    assert (await requester.reply(set_id)).status == "error"


async def test_point(start_server: Any, requester: Requester) -> None:
    await start_server(device_set(**CAMERA))
    reply = await requester.request(
        None,
        "point",
        {"set": {"samx": 2.0}, "trigger": ["eiger"], "min_wait": 0.01, "read": ["samx", "bpm4i", "eiger"]},
        scan_id="s",
        point_id=0,
        readout_priority="monitored",
    )
    assert reply.status == "completed", reply.error_info
    assert reply.result["samx"]["samx"]["value"] == 2.0
    assert reply.result["bpm4i"]["bpm4i"]["value"] == pytest.approx(1000 * 0.6065, abs=0.1)
    assert reply.result["eiger"]["eiger_image"]["value"].shape == (8, 8)
