"""A Redis that restarts without its data: the services write their state keys back.

Redis without persistence (or one killed before its append-only file had its last
writes) comes back without the keys clients read as state: the last scan's status
(``info/scans/scan_status``, ``info/public/<scan_id>/scan_info``), the queue
status, the device configuration and each device's info. The scan server and the
device server write theirs back after their reconnection; a scan still
runs afterwards, and takes the next scan number (the counters were lost too).
"""

from __future__ import annotations

import pytest
from faultkit import FaultStack
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AvailableResourceMessage,
    DeviceInfoMessage,
    ScanQueueStatusMessage,
    ScanStatusMessage,
)
from bec_core.redis_connector import AsyncRedisConnector

pytestmark = pytest.mark.system

DEADLINE = 60.0


async def run_scan(client: AsyncRedisConnector, rec: Recorder, steps: int) -> str:
    msg = request("line_scan", {"samx": [-1, 1]}, steps=steps, exp_time=0, relative=False)
    assert (await submit(client, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), f"scan {scan_id} closed", DEADLINE)
    return scan_id


async def test_state_keys_written_back_into_a_redis_restarted_empty(tmp_path):
    stack = FaultStack(tmp_path, persistence="none")
    stack.start_redis()
    client = await AsyncRedisConnector(stack.redis.url).connect()
    try:
        stack.start()
        await wait_services(client, ["ScanServer", "DeviceServer"], DEADLINE)
        rec = await Recorder(client).follow(**all_endpoints())
        scan_id = await run_scan(client, rec, 5)
        before = await client.get(MessageEndpoints.public_scan_info(scan_id))
        assert isinstance(before, ScanStatusMessage) and before.status == "closed"

        stack.kill_redis()
        stack.start_redis()  # empty: nothing was persisted

        async def restored() -> bool:
            try:
                info = await client.get(MessageEndpoints.public_scan_info(scan_id))
                status = await client.get(MessageEndpoints.scan_status())
                queue = await client.get(MessageEndpoints.scan_queue_status())
                config = await client.get(MessageEndpoints.device_config())
                samx = await client.get(MessageEndpoints.device_info("samx"))
            except Exception:  # our own connection still reconnecting
                return False
            return None not in (info, status, queue, config, samx)

        assert await until(restored, DEADLINE), f"state keys not written back\n{stack.logs()}"
        info = await client.get(MessageEndpoints.public_scan_info(scan_id))
        status = await client.get(MessageEndpoints.scan_status())
        queue = await client.get(MessageEndpoints.scan_queue_status())
        assert isinstance(info, ScanStatusMessage) and info.status == "closed"
        assert info.num_monitored_readouts == 5
        assert isinstance(status, ScanStatusMessage) and status.scan_id == scan_id
        assert isinstance(queue, ScanQueueStatusMessage) and "primary" in queue.queue
        assert await client.redis.ttl(MessageEndpoints.public_scan_info(scan_id).endpoint) > 0
        assert "written back" in (tmp_path / "ss.log").read_text()
        # the device server's: the configuration and every device's info (a client sees the devices)
        config = await client.get(MessageEndpoints.device_config())
        assert isinstance(config, AvailableResourceMessage)
        names = {d["name"] for d in config.resource}
        assert {"samx", "samy", "bpm4i"} <= names
        for name in names:
            info = await client.get(MessageEndpoints.device_info(name))
            assert isinstance(info, DeviceInfoMessage) and info.device == name
        assert "written back" in (tmp_path / "ds.log").read_text()

        # the stack works on: a new scan closes, and its status is the one stored
        rec = await Recorder(client).follow(**all_endpoints())
        after = await run_scan(client, rec, 3)
        status = await client.get(MessageEndpoints.scan_status())
        assert isinstance(status, ScanStatusMessage) and status.scan_id == after
        # the counters were lost with the rest: the numbers go on, none is used twice
        assert status.scan_number == before.scan_number + 1
        assert status.dataset_number == before.dataset_number + 1
    finally:
        await client.close()
        stack.close()
