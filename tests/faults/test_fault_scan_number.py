"""Defect 5 of issue 11: absurd values written by a client to ``user/scan_number``.

2**64-1 (and other out-of-range or malformed values) are ignored with a warning;
numbering continues from the last valid number, also after a scan-server restart.
"""

from __future__ import annotations

import pytest
from faultkit import FaultStack
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import VariableMessage
from bec_core.serialization import dumps

pytestmark = pytest.mark.system

DEADLINE = 30.0


async def run_acquire(client, rec: Recorder) -> int:
    msg = request("acquire")
    response = await submit(client, rec, msg)
    assert response.accepted, response.message
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    status = await rec.wait_for(
        lambda: next(
            (m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == "closed"), None
        ),
        "the scan closed",
        DEADLINE,
    )
    return status.scan_number


@pytest.mark.parametrize("bad", [2**64 - 1, -5, 1.5, "many", True, [1, 2], 2**40])
async def test_absurd_scan_number_is_ignored_and_numbering_goes_on(fault_stack: FaultStack, client, bad):
    stack = fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())
    first = await run_acquire(client, rec)
    await client.redis.set(MessageEndpoints.scan_number().endpoint, dumps(VariableMessage(value={"": bad})))
    assert await run_acquire(client, rec) == first + 1, stack.logs()
    assert "ignored" in (stack.tmp / "ss.log").read_text()
    # the stored value is a valid number again, and a restarted scan server goes on from it
    assert (await client.get(MessageEndpoints.scan_number())).value == first + 1  # no account: the plain number (issue 16, item 14)
    await client.redis.set(MessageEndpoints.scan_number().endpoint, dumps(VariableMessage(value={"": bad})))
    assert stack.ss is not None and stack.ss.stop() == 0
    await client.delete(MessageEndpoints.service_status("ScanServer"))
    stack.start_ss()
    await wait_services(client, ["ScanServer"], DEADLINE)
    assert await run_acquire(client, rec) == first + 2, stack.logs()
