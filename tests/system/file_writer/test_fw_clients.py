"""``report.wait(file_written=True)`` with bec-core's client and with stock bec_lib's ScanReport.

Stock: a full stock BECClient cannot start against bec-core yet (its device manager cannot parse
bec-core's device info, see reference/bec-e2e-gaps.md S2), so the test runs stock's own
``ScanReport.wait`` on a stand-in client holding what that wait uses: stock's ScanManager
(queue, request and scan storage fed by a stock RedisConnector, including its
``info/public/*/file/*`` subscription) and stock's CallbackHandler.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import h5py
import pytest
from stock_follower import stock_request


def test_our_client_waits_for_the_file(stack: dict) -> None:
    from bec_core.client import BECClient

    bec = BECClient(stack["url"], server_timeout=30).start()
    try:
        report = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=7, exp_time=0, relative=False)
        report.wait(timeout=60, file_written=True)
        assert report.file.done and report.file.successful
        assert report.file.file_path.startswith(str(stack["tmp"] / "data"))
        with h5py.File(report.file.file_path, "r") as f:  # complete on disk when wait() returns
            assert f["entry/collection/devices/samx/samx/value"].shape == (7,)
            assert f["entry"].attrs["writer_status"] == "complete"
    finally:
        bec.shutdown()


def test_stock_scan_report_waits_for_the_file(stack: dict) -> None:
    pytest.importorskip("bec_lib")
    from bec_lib import messages
    from bec_lib.callback_handler import CallbackHandler
    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.redis_connector import RedisConnector
    from bec_lib.scan_manager import ScanManager
    from bec_lib.scan_report import ScanReport

    url = stack["url"].removeprefix("redis://")
    connector = RedisConnector(url)
    try:
        client = SimpleNamespace(queue=ScanManager(connector), callbacks=CallbackHandler())
        request = stock_request(messages, "line_scan", ["samx", -1, 1], steps=6, exp_time=0, relative=False)
        report = ScanReport.from_request(request, client=client)
        connector.send(MessageEndpoints.scan_queue_request("default"), request)
        report.wait(timeout=60, file_written=True)  # stock's default; returns only once the file is done
        assert report._file_written()
        [(path, state)] = [(p, s) for p, s in report.scan.public_files.items() if "_master" in p]
        assert state == {"done_state": True, "successful": True}
        assert Path(path).is_file()
        assert report.scan.scan_number is not None
        assert Path(path).name == f"S{report.scan.scan_number:05d}_master.h5"
    finally:
        connector.shutdown()
