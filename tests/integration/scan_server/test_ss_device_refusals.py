"""Issue 16, items 9 and 10: a scan naming a device it cannot use is refused at intake.

Refused before it takes a scan number, naming the device and why: a device that
failed to build ("mot1: device failed to build (...)"; it was refused as merely
"disabled"), a device disabled in the config, and a detector named as a motor
("bpm4i is not a positioner"; it was accepted, took a number and aborted with
"AttributeError: set"). Real device server and scan server processes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ss_harness import FAILING_DEVICE, Proc, device_server, request, scan_server, submit, write_devices

from bec_core.endpoints import MessageEndpoints
from bec_core.redis_server import RedisServer

pytestmark = pytest.mark.system

BROKEN = """
mot1:
  deviceClass: bec_device_server.sim.SimPositioner
  deviceConfig: {no_such_argument: 1}
  readoutPriority: baseline
  enabled: true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The module's stack, with one device that fails to build (an argument its class does not take)."""
    tmp = tmp_path_factory.mktemp("refusal-stack")
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    config = write_devices(tmp / "devices.yaml", FAILING_DEVICE + BROKEN)
    ds = device_server(redis.url, config, tmp).start()
    ss = scan_server(redis.url, tmp).start()
    try:
        yield {"url": redis.url, "tmp": tmp}
    finally:
        for proc in (ss, ds):
            if isinstance(proc, Proc):
                proc.stop()
        redis.stop()


async def _number(conn) -> object:
    msg = await conn.get(MessageEndpoints.scan_number())
    return None if msg is None else msg.value


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (
            {"mot1": [0, 1]},
            "mot1: device failed to build (failed to initialise: ConfigError: Unknown config parameter no_such_argument",
        ),
        ({"samx": [0, 1], "mot1": [0, 1]}, "mot1: device failed to build"),
        ({"disabled_mon": [0, 1]}, "disabled_mon: device is disabled"),
        ({"bpm4i": [0, 1]}, "bpm4i is not a positioner"),
    ],
)
async def test_a_scan_of_an_unusable_device_is_refused_before_it_takes_a_number(conn, rec, args, text):
    before = await _number(conn)
    msg = request("line_scan", args, steps=3, relative=False)
    response = await submit(conn, rec, msg)
    assert response.accepted is False, response.message
    assert response.message.startswith(text), response.message
    assert len(response.message) < 500
    assert await _number(conn) == before
    assert not rec.queue_entries(msg.metadata["RID"])


async def test_moving_a_detector_is_refused(conn, rec):
    response = await submit(conn, rec, request("mv", {"bpm4i": [1.0]}, relative=False))
    assert response.accepted is False and "bpm4i is not a positioner" in response.message


async def test_a_motor_still_scans(conn, rec):
    response = await submit(conn, rec, request("line_scan", {"samx": [0, 1]}, steps=2, relative=False))
    assert response.accepted, response.message
