"""Defect 4 of issue 11 (rest): a scan at ``max_points`` must not stall the scan server's loop.

The positions of an accepted request are computed while it is validated. A
1000 x 1000 grid (1,000,000 points, the default ``max_points``) took the event
loop for the whole computation (about 0.6 s here), so the heartbeat stopped
meanwhile. They are computed in a worker thread now.

Measured by event order, not by a clock: with the heartbeat every 0.02 s,
the test records, in arrival order, the scan server's heartbeats and the
answer to the grid request; at least three heartbeats must arrive after the
request was published and before its answer. With the loop blocked while the
positions are computed, none can (at most the one already on its way).
"""

from __future__ import annotations

import pytest
from faultkit import FaultStack
from ss_harness import Recorder, all_endpoints, request, scan_id_of, wait_services

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage
from bec_core.redis_connector.base import MessageObject

pytestmark = pytest.mark.system

DEADLINE = 60.0


async def test_a_max_size_grid_request_leaves_the_heartbeat_ticking(fault_stack: FaultStack, client):
    stack = fault_stack
    stack.settings(timeouts={"heartbeat_interval": 0.02, "heartbeat_expiry": 5.0})
    stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())
    events: list[str] = []
    msg = request("grid_scan", {"samx": [-5, 5, 1000], "samy": [-5, 5, 1000]}, exp_time=0, relative=False)
    rid = msg.metadata["RID"]

    def on_heartbeat(_msg: MessageObject) -> None:
        events.append("heartbeat")

    def on_response(item: MessageObject) -> None:
        if item.value.metadata.get("RID") == rid:
            events.append("answer")

    await client.register(MessageEndpoints.service_status("ScanServer"), on_heartbeat)
    await client.register(MessageEndpoints.scan_queue_request_response(), on_response)
    events.append("sent")
    await client.send(MessageEndpoints.scan_queue_request("default"), msg)
    response = await rec.wait_for(lambda: rec.response(rid), "the answer to the grid request", DEADLINE)
    assert response.accepted, response.message
    assert "answer" in events, events[-5:]
    window = events[events.index("sent") + 1 : events.index("answer")]
    beats = window.count("heartbeat")
    print(f"\nFIGURE 1000x1000 grid request: {beats} heartbeats (every 0.02 s) between request and answer")
    assert beats >= 3, f"the heartbeat stalled while the positions were computed: {beats} beats in the window"
    # the scan would run a million points: abort it once it is open
    scan_id = await scan_id_of(rec, rid)
    await rec.wait_for(lambda: "open" in rec.statuses(scan_id), "the grid scan open", DEADLINE)
    await client.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action="abort", parameter={}, queue="primary"),
    )
    await rec.wait_for(
        lambda: {"aborted", "halted"} & set(rec.statuses(scan_id)), "the grid scan ended", DEADLINE
    )
