"""Moves and scans address a device's sub-device by its dotted name, as the stock client sends for
``dev.hexapod.x`` (e2e test_mv_scan_nested_device); unknown components are refused by name
(real processes: redis-server, bec-device-server with ophyd_devices' SynDeviceOPAAS, bec-scan-server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ss_harness import (
    request,
    scan_id_of,
    scan_stack,
    submit,
    write_devices,
)

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AvailableResourceMessage, DeviceMessage
from bec_core.redis_connector import AsyncRedisConnector

HEXAPOD = """
hexapod:
  deviceClass: ophyd_devices.SynDeviceOPAAS
  deviceConfig: null
  readoutPriority: baseline
  enabled: true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Redis, the device server (test devices plus a hexapod) and the scan server."""
    tmp = tmp_path_factory.mktemp("nested-stack")
    with scan_stack(tmp, write_devices(tmp / "devices.yaml", HEXAPOD)) as env:
        yield env
    assert env.get("ss_code", 0) in (0, -9), (tmp / "ss.log").read_text()[-3000:]


async def hexapod_reading(conn: AsyncRedisConnector) -> dict:
    msg = await conn.get(MessageEndpoints.device_readback("hexapod"))
    assert isinstance(msg, DeviceMessage), msg
    return msg.signals


async def test_umv_moves_sub_devices(conn, rec):
    msg = request("umv", ["hexapod.x", 3.0, "hexapod.y", -2.0], relative=False)
    msg.metadata["response"] = True
    response = await submit(conn, rec, msg)
    assert response.accepted, response.message
    rid = msg.metadata["RID"]

    def readback() -> dict | None:
        for entry in rec.queue_entries(rid):
            for instruction in entry.request_blocks[0].report_instructions:
                if "readback" in instruction:
                    return instruction["readback"]
        return None

    readback = await rec.wait_for(readback, "the umv's readback report instruction")
    assert readback["devices"] == ["hexapod.x", "hexapod.y"]
    await rec.wait_for(
        lambda: any(e.status == "COMPLETED" for e in rec.queue_entries(rid)), "the umv completed"
    )
    signals = await hexapod_reading(conn)
    assert abs(signals["hexapod_x"]["value"] - 3.0) < 0.5
    assert abs(signals["hexapod_y"]["value"] + 2.0) < 0.5
    # the client's progress bar waits for one req_status per moved name
    done = await conn.redis.xrange(MessageEndpoints.device_req_status(rid).endpoint)
    assert len(done) == 2, done


async def test_relative_line_scan_over_a_sub_device(conn, rec):
    start = (await hexapod_reading(conn))["hexapod_y"]["value"]
    msg = request("line_scan", {"hexapod.y": [-1, 1]}, steps=3, relative=True, exp_time=0)
    assert (await submit(conn, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: {"closed", "aborted"} & set(rec.statuses(scan_id)), "the scan ended")
    assert rec.statuses(scan_id)[-1] == "closed", rec.msgs["alarm"][-1:]
    points = [s.data["hexapod"]["hexapod_y"]["value"] for s in rec.segments(scan_id)]
    # the sim positioner ends a move within its tolerance (0.5), as the stock e2e test allows
    assert len(points) == 3
    assert all(abs(p - start - t) <= 0.5 for p, t in zip(points, (-1.0, 0.0, 1.0), strict=True)), points
    # a relative scan returns to where it started
    await rec.wait_for(lambda: rec.queue_entries(msg.metadata["RID"])[-1].status == "COMPLETED", "done")
    assert abs((await hexapod_reading(conn))["hexapod_y"]["value"] - start) < 0.5


async def test_config_without_device_config_is_published_as_empty_dict(conn):
    """Stock stores a missing ``deviceConfig`` as ``{}``; the e2e test reads
    ``dev.hexapod._config["deviceConfig"].get("tolerance", 0.5)``."""
    msg = await conn.get(MessageEndpoints.device_config())
    assert isinstance(msg, AvailableResourceMessage)
    hexapod = next(d for d in msg.resource if d["name"] == "hexapod")
    assert hexapod["deviceConfig"] == {}


async def test_unknown_components_are_refused_by_name(conn, rec):
    for name, text in (
        ("hexapod.q", "hexapod.q: unknown device (hexapod has no component 'q'"),
        ("nosuch.x", "nosuch.x: unknown device"),
    ):
        response = await submit(conn, rec, request("umv", [name, 1.0], relative=False))
        assert not response.accepted
        assert text in response.message, response.message
