"""An aborted or halted scan still gets a valid, complete file of the points it took, marked with
the scan's exit status (where stock writes it), and goes into the scan history."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from fw_harness import wait_file
from ss_harness import Recorder, request, scan_id_of, submit
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage
from bec_core.redis_connector import AsyncRedisConnector


@pytest.mark.parametrize("action,status", [("abort", "aborted"), ("halt", "halted")])
async def test_interrupted_scan_gets_a_marked_file(
    action: str, status: str, conn: AsyncRedisConnector, rec: Recorder
) -> None:
    msg = request("line_scan", ["samx", -5, 5], steps=400, exp_time=0.01, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 20, "the first points")
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(scan_id=scan_id, action=action, parameter={}),
    )
    await rec.wait_for(lambda: status in rec.statuses(scan_id), f"the scan {status}")
    final = next(m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == status)
    taken = final.num_monitored_readouts
    assert 20 <= taken < 400

    done = await wait_file(conn, scan_id)
    assert done.successful
    published = sorted(rec.segments(scan_id), key=lambda s: s.point_id)
    with h5py.File(done.file_path, "r") as f:
        assert f["entry"].attrs["writer_status"] == "complete"
        assert f["entry/collection/metadata/bec/status"][()].decode() == status
        assert f["entry/collection/metadata/bec/reason"][()].decode() == "user"
        values = f["entry/collection/devices/bpm4i/bpm4i/value"][...]
    assert values.shape == (taken,)
    np.testing.assert_array_equal(values, [s.data["bpm4i"]["bpm4i"]["value"] for s in published])
    # the history entry is appended just after the file message: wait for it
    entries: list = []

    async def in_history() -> bool:
        history = await conn.xrange(MessageEndpoints.scan_history())
        entries[:] = [e["data"] for e in history if e["data"].scan_id == scan_id]
        return bool(entries)

    assert await until(in_history, 30.0), "the scan never reached the scan history"
    entry = entries[0]
    assert entry.exit_status == status and entry.reason == "user" and entry.file_path == done.file_path
