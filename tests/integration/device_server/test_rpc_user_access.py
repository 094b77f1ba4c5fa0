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
