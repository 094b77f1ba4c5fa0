"""Defect 6 of issue 11 (part): a burst of 200 requests of 1 MiB each, in one pipeline.

Oversized requests are refused before they are decoded, with a short text naming
the limit (the megabyte is not echoed back). Redis drops a pub/sub subscriber
whose output buffer passes 32 MB, which 200 MiB published at once does whatever
the reader does: the scan server's request subscription then comes back at once,
so a normal request sent right after the burst is accepted. Requests published
while it was dropped are lost (plain pub/sub, the stock client's channel): the
figure printed says how many.
"""

from __future__ import annotations

import pytest
from faultkit import FaultStack
from ss_harness import Recorder, all_endpoints, request, submit, wait_services

from bec_core.endpoints import MessageEndpoints
from bec_core.serialization import dumps

pytestmark = pytest.mark.system

DEADLINE = 60.0
BURST = 200


async def test_a_burst_of_large_requests_is_answered_and_drained(fault_stack: FaultStack, client):
    stack = fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())
    channel = MessageEndpoints.scan_queue_request("default").endpoint
    rids = []
    pipe = client.redis.pipeline(transaction=False)
    for _ in range(BURST):
        msg = request("acquire")
        msg.metadata["user_metadata"] = {"blob": "x" * (1 << 20)}
        rids.append(msg.metadata["RID"])
        pipe.publish(channel, dumps(msg))
    await pipe.execute()  # all 200 MiB in one go
    normal = request("acquire")
    response = await submit(client, rec, normal)
    assert response.accepted, response.message
    answered = [rec.response(r) for r in rids if rec.response(r) is not None]
    assert answered, "no oversized request was answered"
    for answer in answered:
        assert answer.accepted is False and "max_request_bytes" in answer.message
        assert len(answer.message) < 500
    assert stack.ss is not None and stack.ss.proc is not None and stack.ss.proc.poll() is None
    print(
        f"\nFIGURE flood of {BURST} x 1 MiB requests in one pipeline: {len(answered)} answered (refused), "
        f"{BURST - len(answered)} lost while Redis had dropped the subscriber; the next request accepted"
    )
