"""Every finished scan is appended to ``info/scans/scan_history`` with what stock puts there; stock
bec_lib's ``ScanHistory`` lists the scans and opens their files, and so does ``bec.history``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bec_core.client import BECClient


@pytest.fixture(scope="module")
def two_scans(stack: dict) -> dict:
    """Two finished scans with their files, run with our client."""
    bec = BECClient(stack["url"], server_timeout=30).start()
    try:
        line = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=4, exp_time=0, relative=False)
        line.wait(timeout=60, file_written=True)
        grid = bec.scans.grid_scan(bec.dev.samx, -1, 1, 3, bec.dev.samy, -1, 1, 2, exp_time=0, relative=False)
        grid.wait(timeout=60, file_written=True)
        return {"reports": (line, grid)}
    finally:
        bec.shutdown()


def test_history_entries_carry_stocks_fields(stack: dict, two_scans: dict) -> None:
    bec = BECClient(stack["url"], server_timeout=30).start()
    try:
        line, grid = two_scans["reports"]
        by_id = {s.scan_id: s for s in bec.history.scans()}
        entry = by_id[grid.scan.scan_id].msg
        assert entry.scan_name == "grid_scan" and entry.exit_status == "closed"
        assert entry.num_points == 6 and entry.num_monitored_readouts == 6
        assert entry.file_path == grid.file.file_path
        assert entry.start_time <= entry.end_time
        assert entry.request_inputs["arg_bundle"] == ["samx", -1, 1, 3, "samy", -1, 1, 2]
        assert entry.stored_data_info["samx"]["samx"] == {"shape": [6], "dtype": "float64"}
        assert entry.stored_data_info["bpm4i"]["bpm4i"]["shape"] == [6]

        scan = bec.history.by_number(line.scan.scan_number)
        values = scan.read(["samx"])["samx"]["samx"]
        np.testing.assert_allclose(values, np.linspace(-1, 1, 4), atol=0.02)
        assert scan.metadata()["scan_name"] == b"line_scan"
        assert bec.history[-1].scan_id == grid.scan.scan_id
    finally:
        bec.shutdown()


def test_stock_scan_history_lists_and_opens_our_files(stack: dict, two_scans: dict) -> None:
    pytest.importorskip("bec_lib")
    from bec_lib.callback_handler import CallbackHandler
    from bec_lib.redis_connector import RedisConnector
    from bec_lib.scan_history import ScanHistory

    connector = RedisConnector(stack["url"].removeprefix("redis://"))
    try:
        client = SimpleNamespace(connector=connector, callbacks=CallbackHandler())
        history = ScanHistory(client, load_threaded=False)
        line, grid = two_scans["reports"]
        assert len(history) >= 2
        container = history.get_by_scan_id(grid.scan.scan_id)
        assert container is not None
        samx = container.devices.samx.samx.read()["value"]
        assert samx.shape == (6,)
        assert set(container.readout_groups.monitored_devices.keys()) >= {"samx", "samy", "bpm4i"}
        assert container.metadata["bec"]["scan_number"] == grid.scan.scan_number
        assert history[-1]._msg.scan_id == grid.scan.scan_id
        by_number = history.get_by_scan_number(line.scan.scan_number)
        assert by_number.devices.samx.samx.read()["value"].shape == (4,)
    finally:
        connector.shutdown()
