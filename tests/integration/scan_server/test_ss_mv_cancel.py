"""A stock client cancels ``mv`` by stopping the motor (``ScanReport.cancel`` sends
``user/queue/stop_devices``): the move's failure reaches its waiters through the device
server's request status, and the scan server raises no alarm for it, as stock (e2e
test_mv_can_be_cancelled). Real processes: redis-server, bec-device-server with ophyd_devices'
SimPositioner, bec-scan-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ss_harness import Recorder, request, scan_stack, submit, write_devices
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceMessage, VariableMessage
from bec_core.redis_connector import AsyncRedisConnector

SLOW = """
slowx:
  deviceClass: ophyd_devices.SimPositioner
  deviceConfig: {delay: 1, limits: [-50, 50], tolerance: 0.01, update_frequency: 100}
  readoutPriority: baseline
  enabled: true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Redis, the device server (test devices plus a slow ophyd_devices motor) and the scan server."""
    tmp = tmp_path_factory.mktemp("mv-cancel")
    with scan_stack(tmp, write_devices(tmp / "devices.yaml", SLOW)) as env:
        yield env


async def test_a_stopped_mv_raises_no_alarm(conn: AsyncRedisConnector, rec: Recorder, stack: dict) -> None:
    slow_down = request(  # dev.slowx.velocity.set(1) as a stock client sends it; the queue runs it first
        "device_rpc", device="slowx", func="velocity.set", func_args=[1], func_kwargs={}, rpc_id="v1"
    )
    assert (await submit(conn, rec, slow_down)).accepted
    move = request("mv", {"slowx": [20.0]}, relative=False)
    assert (await submit(conn, rec, move)).accepted
    rid = move.metadata["RID"]

    async def moving() -> bool:
        reading = await conn.get(MessageEndpoints.device_readback("slowx"))
        return isinstance(reading, DeviceMessage) and 0.05 < reading.signals["slowx"]["value"] < 19

    assert await until(moving, 20), "slowx did not start moving"
    await conn.send(MessageEndpoints.stop_devices(), VariableMessage(value=["slowx"]))

    log = stack["tmp"] / "ss.log"

    async def stopped_logged() -> bool:
        return f"(RID {rid}) stopped" in log.read_text(errors="replace")

    assert await until(stopped_logged, 20), log.read_text(errors="replace")[-3000:]
    reading = await conn.get(MessageEndpoints.device_readback("slowx"))
    assert reading.signals["slowx"]["value"] < 19  # it stopped on the way
    assert [a for a in rec.msgs["alarm"] if rid in str(a.metadata)] == []
