"""PSIDeviceBase hooks run at the moments stock BEC runs them, with the live scan info.

A real stack (redis, bec-device-server, bec-scan-server as processes). The device
``recorder`` (``bec_device_server.sim.hooks.HookRecorder``, a PSIDeviceBase) appends every
hook call, with the scan info it saw, to a Redis list through
``self.device_manager.connector`` (stock bec_lib's RedisConnector and message classes).
Stock's order for a software-triggered monitored device in a step scan: ``on_stage``,
``on_pre_scan``, one ``on_trigger`` per point, ``on_complete``, ``on_unstage`` (read from
stock's scan server: open_scan, stage, baseline, pre_scan, points, complete, unstage);
``on_connected`` when built, ``on_destroy`` when removed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))

from stack import TEST_DEVICES, Stack
from waiting import POLL_S

from bec_core.client import BECClient

pytestmark = pytest.mark.system

RECORDER = """
recorder:
  deviceClass: bec_device_server.sim.hooks.HookRecorder
  deviceConfig: {}
  readoutPriority: monitored
  softwareTrigger: true
  enabled: true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("hooks-stack")
    devices = log_dir / "devices.yaml"
    devices.write_text(TEST_DEVICES.read_text() + RECORDER)
    running = Stack(log_dir, devices=devices).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def bec(stack: Stack) -> Iterator[Any]:
    client = BECClient(stack.address, server_timeout=60).start()
    try:
        yield client
    finally:
        client.shutdown()


def recorded(stack: Stack) -> list[dict[str, Any]]:
    from bec_lib.redis_connector import RedisConnector

    conn = RedisConnector(stack.address)
    try:
        return [m.value for m in conn.lrange("hook_recorder/recorder", 0, -1)]
    finally:
        conn.shutdown()


def test_hooks_of_a_line_scan_in_stocks_order_with_the_scan_info(bec: Any, stack: Stack) -> None:
    assert [r["hook"] for r in recorded(stack)] == ["on_connected"]
    report = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=4, exp_time=0, relative=False).wait(timeout=60)
    calls = recorded(stack)[1:]
    assert [c["hook"] for c in calls] == [
        "on_stage",
        "on_pre_scan",
        "on_trigger",
        "on_trigger",
        "on_trigger",
        "on_trigger",
        "on_complete",
        "on_unstage",
    ]
    scan_id = report.scan.scan_id
    assert all(c["scan_id"] == scan_id for c in calls)  # the live scan info, from on_stage on
    assert calls[0]["num_points"] == 4
    assert bec.dev.recorder.read(cached=True)["recorder_value"]["value"] == 4


def _wait_for(check: Any, timeout: float) -> bool:
    """True once ``check()`` holds (Redis state nothing announces), False after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def test_hooks_of_an_aborted_scan_stop_and_unstage_without_complete(bec: Any, stack: Stack) -> None:
    before = len(recorded(stack))
    report = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=200, exp_time=0.05, relative=False)
    triggered = lambda: sum(r["hook"] == "on_trigger" for r in recorded(stack)[before:]) >= 2  # noqa: E731
    assert _wait_for(triggered, 60)
    bec.queue.abort()
    with pytest.raises(Exception):  # noqa: B017 - the report says the scan did not finish
        report.wait(timeout=60)
    assert _wait_for(lambda: recorded(stack)[-1]["hook"] == "on_unstage", 30)
    hooks = [r["hook"] for r in recorded(stack)[before:]]
    assert hooks[:2] == ["on_stage", "on_pre_scan"]
    assert "on_complete" not in hooks
    tail = [h for h in hooks if h != "on_trigger"]
    assert tail == ["on_stage", "on_pre_scan", "on_stop", "on_unstage"]
