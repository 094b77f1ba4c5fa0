"""What the plugin loader takes from a plugin module, and what it reports (no processes)."""

from __future__ import annotations

import types

import numpy as np
from bec_scan_server.plugins import scans_of_module
from bec_scan_server.scans import SCANS, LineScan
from bec_scan_server.scans.base import ScanBase


def _module(**members: object) -> types.ModuleType:
    module = types.ModuleType("beamline_scans")
    for name, value in members.items():
        if isinstance(value, type):
            value.__module__ = "beamline_scans"
        setattr(module, name, value)
    return module


def test_own_scans_load_and_imports_of_built_ins_are_ignored():
    class Spiral(ScanBase):
        """A spiral."""

        scan_name = "my_spiral"

        def compute_positions(self) -> np.ndarray:
            return np.zeros((3, 0))

    module = _module(Spiral=Spiral)
    module.LineScan = LineScan  # a re-exported built-in is not the plugin's scan
    found, problems = scans_of_module("p (beamline_scans)", module, SCANS)
    assert found == {"my_spiral": Spiral} and problems == []


def test_classes_written_for_stock_bec_are_reported():
    stock_base = type("ScanBase", (), {"__module__": "bec_server.scan_server.scans.scan_base"})
    grid = type("GridScan", (stock_base,), {"__module__": "bec_server.scan_server.scans.grid_scan"})
    progress = type("DeviceProgressScan", (grid,), {"scan_name": "device_progress_grid_scan"})
    found, problems = scans_of_module("plugin_scans (bec_testing_plugin.scans)", _module(D=progress), SCANS)
    assert found == {}
    assert [p.kind for p in problems] == ["UnsupportedScanPlugin"]
    assert "device_progress_grid_scan" in problems[0].text and "bec_testing_plugin" in problems[0].text


def test_bad_declarations_are_reported_and_skipped():
    class Broken(ScanBase):
        """Its bundle is not a declaration."""

        scan_name = "broken_scan"
        bundle = (object(),)  # type: ignore[assignment]

    found, problems = scans_of_module("p", _module(Broken=Broken), SCANS)
    assert found == {} and "declaration is invalid" in problems[0].text
