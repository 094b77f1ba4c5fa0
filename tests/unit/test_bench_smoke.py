"""Smoke test of the benchmark report writer: tiny fake results, nothing started, no timing asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from bench.common import Stats, Table
from bench.report import write_report


def _tables() -> list[Table]:
    scans = Table(
        "Step scan",
        ["device set", "N", "median ms"],
        [["4 monitors", 10, 12.5]],
        key="scans",
        data={
            "hist": {4: [0.9, 1.0, 1.1], 50: [1.8, 2.0, 2.2]},
            "curve": {"monitors": [4, 50], "ms_per_point": [1.0, 2.0], "fixed_ms": [10.0, 15.0]},
            "times": {"4/10": [0.02, 0.021], "4/100": [0.11, 0.12]},
        },
    )
    reads = Table(
        "reads",
        ["N"],
        [[1]],
        key="device_read",
        data={"n": [1, 5], "ds_ms": [0.5, 0.6], "raw_ms": [0.1, 0.6]},
    )
    return [scans, reads]


def test_table_markdown_and_stats() -> None:
    table = Table("T", ["a", "b"], [["x|y", 1234.5], ["z", float("nan")]], notes=["a note"])
    text = table.to_markdown()
    assert "| a | b |" in text
    assert "x\\|y" in text
    assert "1,234" in text or "1,235" in text
    assert "- a note" in text
    st = Stats([1.0, 2.0, 3.0])
    assert st.median == 2.0
    assert st.spread(1) == "1.0-3.0"


def test_write_report_with_stock(tmp_path: Path) -> None:
    stock = {
        "log": ["reused venv"],
        "errors": ["driver: something failed"],
        "start_s": [6.0],
        "rss_mib": [{"bec-device-server": 200.0, "redis": 5.0}],
        "client_start_s": [1.2],
        "driver": {
            "scans": {"4": {"10": [0.2, 0.21], "100": [1.1, 1.0]}},
            "hist": {"4": [0.0, 0.0, 100.0]},
            "umv_s": [0.05],
        },
    }
    out = tmp_path / "report.md"
    write_report(out, _tables(), [("CPU", "test")], stock, "python -m bench", 1.0, ["nothing"])
    text = out.read_text()
    assert "## Machine" in text
    assert "something failed" in text
    assert "stock BEC 4.3" in text
    assert (tmp_path / "report" / "scan_intervals.png").is_file()
    assert (tmp_path / "report" / "cost_vs_devices.png").is_file()


def test_write_report_without_stock(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    write_report(out, _tables(), [("CPU", "test")], None, "python -m bench --quick", 1.0, [])
    assert "--with-bec" in out.read_text()
