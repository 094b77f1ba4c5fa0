"""The positions our scans visit equal stock BEC 4.3.2's for the same arguments.

The reference, tests/data/scans/stock_positions.json, comes from stock's own
position generators (tests/data/scans/regenerate_positions.py). Each case is
built through our validation, exactly as a request with those arguments, and
its positions compared point by point (same count, same order). Our ``shell``
trajectory optimisation is our own variant: for it only the visited set is
compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bec_scan_server.scans import SCANS
from bec_scan_server.validation import build

CASES = json.loads((Path(__file__).parents[2] / "data" / "scans" / "stock_positions.json").read_text())
SAME_SET_ONLY = {"fermat_scan_shell"}


def _rows(positions: np.ndarray) -> list[tuple[float, ...]]:
    return sorted(tuple(round(v, 9) for v in row) for row in positions.tolist())


@pytest.mark.parametrize("case", sorted(CASES))
def test_positions_as_stock(case: str):
    spec = CASES[case]
    scan = build(SCANS[spec["scan"]], {"args": spec["args"], "kwargs": spec["kwargs"]})
    ours = scan.positions
    stock = np.asarray(spec["positions"], dtype=float).reshape(ours.shape[0] if ours.size else 0, -1)
    assert len(ours) == len(spec["positions"]), case
    if case in SAME_SET_ONLY:
        assert _rows(ours) == _rows(stock)
    else:
        np.testing.assert_allclose(ours, stock, rtol=0, atol=1e-9)


def test_e2e_figures():
    """The counts stock's own e2e suite asserts (F5): fermat step 1.0 over -1..1, cont_line_scan steps=3."""
    fermat = build(
        SCANS["fermat_scan"],
        {"args": ["samx", -1, 1, "samy", -1, 1], "kwargs": {"step": 1.0, "relative": False}},
    )
    assert fermat.num_points() == 3
    cont = build(
        SCANS["cont_line_scan"], {"args": ["samx", 0.0, 0.2], "kwargs": {"steps": 3, "relative": False}}
    )
    assert cont.num_points() == 3 and cont.num_readouts() == 3
