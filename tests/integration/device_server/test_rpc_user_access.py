"""RPC reaches what a stock client can reach: ``USER_ACCESS`` names, private ones included.

ophyd_devices' ``SimPositionerWithController`` lists ``dummy_controller`` in its
``USER_ACCESS``, and ``DummyController`` lists ``_func_with_args`` & co. in its own; stock's
client calls them (e2e ``test_rpc_calls``). Any other private name stays refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from dshelpers import Requester

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.usefixtures("stop_servers")

DEVICES = {
    "rt_controller": {
        "deviceClass": "ophyd_devices.sim.sim_test_devices.SimPositionerWithController",
        "deviceConfig": {"delay": 1, "limits": [-50, 50], "tolerance": 0.01, "update_frequency": 400},
        "readoutPriority": "baseline",
        "enabled": True,
    }
}


async def test_user_access_names_are_callable_and_others_refused(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    await start_server(devices=DEVICES)
    count = 0

    async def rpc(func: str, *args: Any, **kwargs: Any) -> tuple[Any, messages.DeviceRPCMessage]:
        nonlocal count
        count += 1
        rpc_id = f"rpc-{count}"
        reply = await requester.request(
            "rt_controller",
            "rpc",
            {"device": "rt_controller", "func": func, "rpc_id": rpc_id, "args": list(args), "kwargs": kwargs},
            RID=f"rid-{count}",
        )
        return reply, await conn.get(MessageEndpoints.device_rpc(rpc_id))

    reply, stored = await rpc("dummy_controller._func_with_args", 2, 3)
    assert reply.status == "completed", reply.error_info
    assert stored.success and list(stored.return_val) == [2, 3]
    _, stored = await rpc("dummy_controller._func_with_kwargs", kwinput1=2, kwinput2=3)
    assert stored.return_val == {"kwinput1": 2, "kwinput2": 3}
    _, stored = await rpc("dummy_controller._func_with_args_and_kwargs", 2, 3, kwinput1=2)
    assert [list(stored.return_val[0]), stored.return_val[1]] == [[2, 3], {"kwinput1": 2}]
    _, stored = await rpc("dummy_controller._func_without_args_kwargs")
    assert stored.success and stored.return_val is None
    _, stored = await rpc("dummy_controller.some_var")
    assert stored.return_val == 10

    for func, why in [
        ("dummy_controller._some_var_property", "private"),  # not in DummyController.USER_ACCESS
        ("dummy_controller.__init__", "private"),
        ("_stopped", "private"),  # not in the device's USER_ACCESS
        ("dummy_controller.another_var.real", "not a device component"),
    ]:
        reply, stored = await rpc(func)
        assert reply.status == "error" and why in reply.error_info.error_message, (func, reply.error_info)
        assert stored.success is False and why in stored.out["error_message"]


async def test_set_put_get_refresh_the_cached_readings(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """Stock's ``_update_cache``: ``velocity.set(10)`` (config) → device_read_configuration,
    ``setpoint.put(5)`` (normal) → device_read/readback, before the reply / req_status."""
    await start_server(devices=DEVICES)

    async def rpc(func: str, *args: Any, rid: str) -> Any:
        reply = await requester.request(
            "rt_controller",
            "rpc",
            {"device": "rt_controller", "func": func, "rpc_id": rid, "args": list(args), "kwargs": {}},
            RID=rid,
        )
        assert reply.status == "completed", reply.error_info
        return reply

    reply = await rpc("velocity.set", 10, rid="r-vel")
    assert reply.result["type"] == "status"
    done = await conn.xread(MessageEndpoints.device_req_status("r-vel"), from_start=True, block=10_000)
    assert done and done[0]["data"].success
    cfg = await conn.get(MessageEndpoints.device_read_configuration("rt_controller"))
    assert cfg.signals["rt_controller_velocity"]["value"] == 10

    await rpc("setpoint.put", 5, rid="r-put")
    read = await conn.get(MessageEndpoints.device_read("rt_controller"))
    assert read.signals["rt_controller_setpoint"]["value"] == 5
    readback = await conn.get(MessageEndpoints.device_readback("rt_controller"))
    assert readback.signals["rt_controller_setpoint"]["value"] == 5


async def test_sub_signal_read_publishes_the_root_and_user_access_values_are_settable(
    start_server: Any, requester: Requester, conn: AsyncRedisConnector
) -> None:
    """``dev.x.readback.read()`` sends ``func="readback.read"``: stock reads and caches the *root*
    device (same timestamp cached as returned); ``some_var = 20`` sets a USER_ACCESS value."""
    server = await start_server(devices=DEVICES)

    async def rpc(func: str, *args: Any, rid: str, **kwargs: Any) -> Any:
        await requester.request(
            "rt_controller",
            "rpc",
            {"device": "rt_controller", "func": func, "rpc_id": rid, "args": list(args), "kwargs": kwargs},
            RID=rid,
        )
        return await conn.get(MessageEndpoints.device_rpc(rid))

    stored = await rpc("readback.read", rid="r-read")
    assert stored.success, stored.out
    stamp = stored.return_val["rt_controller"]["timestamp"]
    assert "rt_controller_setpoint" in stored.return_val  # the root's whole reading
    cached = await conn.get(MessageEndpoints.device_readback("rt_controller"))
    assert cached.signals["rt_controller"]["timestamp"] == stamp

    stored = await rpc("velocity.read", rid="r-cfg")  # a config signal: read_configuration
    assert "rt_controller_velocity" in stored.return_val

    stored = await rpc("dummy_controller.some_var", 20, rid="r-set", _set_property=True)
    assert stored.success, stored.out
    assert server.devices.entries["rt_controller"].obj.dummy_controller.some_var == 20
    stored = await rpc("dummy_controller.another_var", 1, rid="r-no", _set_property=True)
    assert not stored.success and "not a settable property" in stored.out["error_message"]
