"""Faults in a scan whose instant points go several per instruction (ADR 0001).

A point instruction of several points publishes each point as it is read, and the reply with
the last one. ``test_device_server_killed_in_a_scan_of_batched_points``: SIGKILL mid-scan; the
scan ends aborted naming the device server, and its end counts exactly the points that were
published (in order, each once, each stored), also for the instruction that was cut short.
Then a restarted device server runs the next scan of batched points to the end.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from faultkit import FaultStack
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services

from bec_core.endpoints import MessageEndpoints

DEADLINE = 60.0
POINTS = 20_000  # instant points: about 5 s unless the kill lands first


async def test_device_server_killed_in_a_scan_of_batched_points(fault_stack: FaultStack, client):
    fault_stack.start()
    await wait_services(client, ["ScanServer", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())
    msg = request("line_scan", {"samx": [-5, 5]}, steps=POINTS, exp_time=0, relative=False)
    assert (await submit(client, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 200, "200 points", DEADLINE)
    assert fault_stack.ds is not None
    os.kill(fault_stack.ds.pid, signal.SIGKILL)
    end = await rec.wait_for(
        lambda: next(
            (m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status != "open"), None
        ),
        "the scan's end after the kill",
        DEADLINE,
    )
    assert end.status == "aborted" and end.reason == "alarm", (end.status, fault_stack.logs())
    assert "device server" in end.info["exit_note"]
    ids = [s.point_id for s in rec.segments(scan_id)]
    assert max(Counter(ids).values()) == 1
    assert ids == list(range(len(ids)))
    stored = await client.keys(MessageEndpoints.public_scan_segment(scan_id))
    assert end.num_monitored_readouts == len(ids) == len(stored) < POINTS

    fault_stack.start_ds()
    await wait_services(client, ["DeviceServer"], DEADLINE)
    again = request("line_scan", {"samx": [-5, 5]}, steps=500, exp_time=0, relative=False)
    assert (await submit(client, rec, again)).accepted
    again_id = await scan_id_of(rec, again.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(again_id), "the next scan closed", DEADLINE)
    assert [s.point_id for s in rec.segments(again_id)] == list(range(500))
