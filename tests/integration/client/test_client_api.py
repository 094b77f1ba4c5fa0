"""The scripting API against real processes (redis-server, bec-device-server, bec-scan-server)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from bec_core.client import BECClient, ScanArgumentError, UnknownDeviceError
from bec_core.client.errors import ScanAbortedError
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import DeviceError

pytestmark = pytest.mark.system


def test_start_loads_devices_and_scans(bec: BECClient) -> None:
    assert {"samx", "samy", "bpm4i"} <= set(bec.dev.names())
    assert "line_scan" in bec.scans and "device_rpc" not in bec.scans
    assert "steps" in inspect.signature(bec.scans.line_scan).parameters
    assert "samx" in dir(bec.dev) and "velocity" in dir(bec.dev.samx)
    # the seed's access path works through the client's connector
    assert bec.connector.get(MessageEndpoints.scan_number()) is not None


def test_line_scan_collects_five_points(bec: BECClient, tmp_path) -> None:
    report = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=5, exp_time=0, relative=False)
    assert report.wait(timeout=30) is report
    assert report.status == "closed"
    data = report.scan.data
    assert data.num_points == 5
    np.testing.assert_allclose(data.samx.samx, np.linspace(-1, 1, 5))
    assert data["bpm4i"]["bpm4i"].shape == (5,)
    assert report.scan.scan_number is not None
    csv_path = report.scan.to_csv(tmp_path / "scan.csv")
    assert len(csv_path.read_text().splitlines()) == 6
    png = report.scan.plot(tmp_path / "scan.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_umv_and_device_reads(bec: BECClient) -> None:
    status = bec.umv(bec.dev.samx, 1.5)
    assert status.done and status.results["samx"].success
    assert bec.dev.samx.position == pytest.approx(1.5)
    assert bec.dev.samx.read(cached=True)["samx"]["value"] == pytest.approx(1.5)
    fresh = bec.dev.samx.read(cached=False)
    assert fresh["samx"]["value"] == pytest.approx(1.5)
    assert bec.dev.samx.limits == [-50, 50]
    assert bec.dev.samx.velocity.get() is not None
    assert "samx" in bec.dev.samx.describe()
    mv = bec.mv(bec.dev.samx, 0.5, bec.dev.samy, -0.5)
    assert mv.wait(timeout=20).done
    rows = {r["name"]: r for r in bec.wm(bec.dev.samx, "samy")}
    assert rows["samx"]["readback"] == pytest.approx(0.5) and rows["samy"]["readback"] == pytest.approx(-0.5)


def test_bad_requests_fail_clearly(bec: BECClient) -> None:
    with pytest.raises(ScanArgumentError, match="relative"):
        bec.scans.line_scan(bec.dev.samx, -1, 1, steps=5)
    with pytest.raises(UnknownDeviceError, match="samq"):
        bec.scans.line_scan("samq", -1, 1, steps=5, relative=False)
    with pytest.raises(AttributeError, match="unknown scan 'line_scn'"):
        bec.scans.line_scn  # noqa: B018
    # accepted, then refused when it runs with a LimitError alarm (as stock BEC 4.3): the move fails
    with pytest.raises(DeviceError, match="outside limits"):
        bec.umv(bec.dev.samx, 500)


def test_queue_pause_resume(bec: BECClient) -> None:
    report = bec.scans.line_scan(bec.dev.samx, 0, 1, steps=40, exp_time=0.05, relative=False)
    hub = bec.events
    hub.wait_for(lambda: report.scan.status == "open" and len(report.scan.raw) >= 2, 20, "scan start")
    bec.queue.pause()
    hub.wait_for(lambda: report.scan.status == "paused", 10, "paused status")
    assert bec.queue.state == "PAUSED"
    bec.queue.resume()
    report.wait(timeout=30)
    assert report.scan.status == "closed" and len(report.scan.raw) == 40


def test_abort_raises(bec: BECClient) -> None:
    report = bec.scans.line_scan(bec.dev.samx, 0, 1, steps=60, exp_time=0.05, relative=False)
    bec.events.wait_for(lambda: len(report.scan.raw) >= 2, 20, "first points")
    bec.queue.abort()
    with pytest.raises(ScanAbortedError, match="aborted"):
        report.wait(timeout=30)
    if bec.queue.state == "PAUSED":
        bec.queue.resume()
