"""Defects 3 and 4 of issue 11: absurd times and sizes.

Above the configured bounds a request is refused with a text naming the argument
and the limit, before any position is computed. A long but allowed exposure
holds its devices only while its scan lives: an abort frees them within a
deadline and the next scan runs.
"""

from __future__ import annotations

import time

import pytest
from faultkit import FaultStack, pending_instructions
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage

pytestmark = pytest.mark.system

DEADLINE = 30.0

ABSURD = [
    ("line_scan", {"samx": [0, 1]}, {"steps": 5, "exp_time": 1e6}, "exp_time=1e+06 s is above the limit"),
    ("line_scan", {"samx": [0, 1]}, {"steps": 5, "settling_time": 1e9}, "settling_time=1e+09 s is above"),
    ("line_scan", {"samx": [0, 1]}, {"steps": 5, "frames_per_trigger": 10**9}, "frames_per_trigger=1e+09"),
    ("line_scan", {"samx": [0, 1]}, {"steps": 5, "burst_at_each_point": 10**9}, "burst_at_each_point"),
    ("time_scan", [10**8, 0.0], {}, "readouts requested, more than the limit"),
    ("grid_scan", {"samx": [0, 1, 3000], "samy": [0, 1, 3000]}, {}, "9e+06 readouts requested"),
    ("round_scan", ["samx", "samy", 0, 10, 10**6, 3], {}, "readouts requested"),
    ("fermat_scan", ["samx", -10, 10, "samy", -10, 10], {"step": 1e-4}, "readouts requested"),
]


@pytest.mark.parametrize(
    ("scan", "args", "kwargs", "text"), ABSURD, ids=[a[0] + ":" + a[3][:20] for a in ABSURD]
)
async def test_absurd_requests_are_refused_with_a_clear_text(
    fault_stack: FaultStack, client, scan, args, kwargs, text
):
    fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())
    response = await submit(client, rec, request(scan, args, relative=False, **kwargs))
    assert response.accepted is False and text in response.message, response.message
    assert "scan_server.limits." in response.message


async def test_abort_frees_the_devices_of_a_long_exposure(fault_stack: FaultStack, client):
    stack = fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())
    msg = request("line_scan", {"samx": [0, 1]}, steps=3, exp_time=3600.0, relative=False)
    assert (await submit(client, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "open" in rec.statuses(scan_id), "the scan open", DEADLINE)

    async def point_in_flight() -> bool:
        return any(i.action == "point" for i in await pending_instructions(client))

    assert await until(point_in_flight, DEADLINE), "the first point never started"
    sent = time.monotonic()
    await client.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action="abort", parameter={}, queue="primary"),
    )
    await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "the scan aborted", DEADLINE)
    print(
        f"\nFIGURE abort of a 3600 s exposure: scan aborted {time.monotonic() - sent:.2f} s after the request"
    )
    await client.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(action="continue", parameter={}, queue="primary"),
    )
    follow = request("line_scan", {"samx": [0, 1]}, steps=3, relative=False)
    assert (await submit(client, rec, follow)).accepted
    follow_id = await scan_id_of(rec, follow.metadata["RID"])
    await rec.wait_for(
        lambda: rec.statuses(follow_id)[-1:] in (["closed"], ["aborted"]), "the next scan's end", DEADLINE
    )
    assert rec.statuses(follow_id)[-1] == "closed", stack.logs()
    log = (stack.tmp / "ss.log").read_text()
    assert "no reply from the device server" not in log, stack.logs()
