"""The new and changed scans through our own client (bec_core.client) against real processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "system" / "client"))

from stack import bec, stack  # noqa: F401  (the client's stack fixtures)

CASES = [
    ("log_scan", ("samx", 1, 10), {"steps": 4, "relative": False}, 4),
    ("hexagonal_scan", ("samx", -1, 1, 1, "samy", -1, 1, 1), {"relative": False}, 8),
    ("multi_region_line_scan", ("samx",), {"regions": [(-1, 0, 2), (1, 2, 2)], "relative": False}, 4),
    (
        "multi_region_grid_scan",
        ("samx", "samy"),
        {"regions": [((-1, 0, 2), (-1, 0, 2)), ((1, 2, 2), (1, 2, 2))], "relative": False},
        8,
    ),
    ("round_roi_scan", ("samx", -1.0, 1.0, "samy", -1.0, 1.0, 1.0, 3), {"relative": False}, None),
    ("fermat_scan", ("samx", -1, 1, "samy", -1, 1), {"step": 1.0, "relative": False}, 3),
    (
        "fermat_scan",
        ("samx", -2, 2, "samy", -2, 2, 0.5),
        {"optim_trajectory": "corridor", "relative": False},
        None,
    ),
    ("cont_line_scan", ("samx", 0.0, 2.0, 3), {"exp_time": 0.0, "relative": False}, 3),
    ("time_scan", (3, 0.01), {}, 3),
    ("acquire", (0.0,), {"burst_at_each_point": 2}, 2),
    ("acquire", (), {"exp_time": 0.0, "burst_at_each_point": 3}, 3),  # a later positional by keyword
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "points"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_scan_with_our_client(bec, name, args, kwargs, points):  # noqa: F811
    dev = bec.dev
    resolved = tuple(getattr(dev, a) if a in ("samx", "samy") else a for a in args)
    report = getattr(bec.scans, name)(*resolved, **kwargs)
    report.wait(timeout=60)
    assert report.scan.status == "closed"
    if points is not None:
        assert len(report.scan.raw) == points


def test_relative_scan_returns_with_our_client(bec):  # noqa: F811
    bec.umv(bec.dev.samx, 2.0)
    report = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=3, relative=True)
    report.wait(timeout=60)
    assert bec.dev.samx.read(cached=True)["samx"]["value"] == pytest.approx(2.0, abs=0.05)
