"""Relative scans move their motors back to the start before their final status (issue 15.1).

Real processes. The start position is set with ``umv`` first; when the
client sees the scan's ``closed``/``aborted``/``halted`` status, the motors'
readbacks must already be back there (the return is part of the scan).
"""

from __future__ import annotations

from typing import Any

import pytest
from ss_harness import request, scan_id_of, submit

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueModificationMessage

START = {"samx": 3.0, "samy": -2.0}
TOLERANCE = 0.05


async def _umv(conn, rec, targets: dict[str, float]) -> None:
    msg = request("umv", {m: [v] for m, v in targets.items()}, relative=False)
    rid = msg.metadata["RID"]
    assert (await submit(conn, rec, msg)).accepted
    await rec.wait_for(lambda: (e := rec.queue_entries(rid)) and e[-1].status == "COMPLETED", "umv done")


async def _position(conn, motor: str) -> float:
    msg = await conn.get(MessageEndpoints.device_readback(motor))
    return float(msg.signals[motor]["value"])


async def _final(rec, scan_id: str, status: str) -> Any:
    return await rec.wait_for(
        lambda: next(
            (m for m in rec.msgs["scan_status"] if m.scan_id == scan_id and m.status == status), None
        ),
        f"scan {status}",
    )


async def _assert_at_start(conn) -> None:
    for motor, start in START.items():
        assert abs(await _position(conn, motor) - start) < TOLERANCE, motor


@pytest.mark.parametrize(
    "msg_factory",
    [
        lambda: request("line_scan", {"samx": [-1, 1], "samy": [0, 2]}, steps=5, relative=True),
        lambda: request("grid_scan", {"samx": [-1, 1, 3], "samy": [-1, 1, 2]}, relative=True),
        lambda: request("fermat_scan", ["samx", -1, 1, "samy", -1, 1], step=0.5, relative=True),
        lambda: request("round_scan", ["samx", "samy", 0, 1, 2, 3], relative=True),
        lambda: request("hexagonal_scan", ["samx", -1, 1, 0.5, "samy", -1, 1, 0.5], relative=True),
    ],
    ids=["line", "grid", "fermat", "round", "hexagonal"],
)
async def test_relative_scan_ends_at_its_start(conn, rec, msg_factory):
    await _umv(conn, rec, START)
    msg = msg_factory()
    assert (await submit(conn, rec, msg)).accepted, msg.scan_type
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    closed = await _final(rec, scan_id, "closed")
    last = rec.segments(scan_id)[-1].data["samx"]["samx"]["value"]
    assert abs(last - START["samx"]) > TOLERANCE  # the last point was elsewhere ...
    await _assert_at_start(conn)  # ... and the motors were back before "closed"
    # positions are published absolute: the start added
    assert abs(closed.info["positions"][0][0] - START["samx"]) < 2


async def test_absolute_scan_stays_at_its_last_point(conn, rec):
    await _umv(conn, rec, START)
    msg = request("line_scan", {"samx": [-1, 1]}, steps=3, relative=False)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await _final(rec, scan_id, "closed")
    assert abs(await _position(conn, "samx") - 1.0) < TOLERANCE


@pytest.mark.parametrize(("action", "status"), [("abort", "aborted"), ("halt", "halted")])
async def test_relative_scan_returns_after_a_stop_in_the_middle(conn, rec, action, status):
    await _umv(conn, rec, START)
    msg = request("line_scan", {"samx": [-5, 5], "samy": [1, 2]}, steps=200, exp_time=0.01, relative=True)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: len(rec.segments(scan_id)) >= 5, "points before the stop")
    await conn.send(
        MessageEndpoints.scan_queue_modification_request(),
        ScanQueueModificationMessage(scan_id=scan_id, action=action, parameter={}, queue="primary"),
    )
    final = await _final(rec, scan_id, status)
    assert final.num_monitored_readouts < 200
    await _assert_at_start(conn)


async def test_relative_scan_returns_after_a_device_error(conn, rec):
    await _umv(conn, rec, START)
    msg = request("line_scan", {"samx": [-1, 1]}, steps=3, relative=True, monitored=["failer"])
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    aborted = await _final(rec, scan_id, "aborted")
    assert aborted.reason == "alarm"
    assert abs(await _position(conn, "samx") - START["samx"]) < TOLERANCE


async def test_mv_scan_mv_as_the_stock_e2e_suite_does(conn, rec):
    """test_mv_scan_mv: umv(samx, 10), a relative grid scan, samx back at 10."""
    await _umv(conn, rec, {"samx": 10.0, "samy": 0.0})
    msg = request("grid_scan", {"samx": [-5, 5, 3], "samy": [-5, 5, 3]}, exp_time=0.001, relative=True)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await _final(rec, scan_id, "closed")
    assert abs(await _position(conn, "samx") - 10.0) < TOLERANCE
    assert abs(await _position(conn, "samy") - 0.0) < TOLERANCE
