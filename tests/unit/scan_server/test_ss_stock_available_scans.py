"""Our ``available_scans`` against the one stock BEC 4.3.2's scan server publishes.

The reference, tests/data/scans/stock_available_scans.json, was captured from a
running stock scan server by tests/data/scans/regenerate_available_scans.py
(run it again to refresh it). Every built-in scan of stock must be offered with
the same class name, flags, bundle, signature (names, order, kinds, defaults,
annotations with their ScanArgument metadata), GUI grouping and position
preview; of the docstring, what the client shows: the first line (the command
list) and the generated ``Args:`` section (help).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from bec_scan_server.scans import available_scans

DATA = Path(__file__).parents[2] / "data" / "scans"
_spec = importlib.util.spec_from_file_location(
    "regenerate_available_scans", DATA / "regenerate_available_scans.py"
)
assert _spec is not None and _spec.loader is not None
_regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_regen)

STOCK: dict[str, Any] = json.loads((DATA / "stock_available_scans.json").read_text())
OURS: dict[str, Any] = _regen.normalize(json.loads(json.dumps(available_scans())))


def _args_section(doc: str) -> list[str]:
    lines = doc.splitlines()
    start = lines.index("Args:")
    end = lines.index("Returns:", start)
    return [line for line in lines[start:end] if line.strip()]


def test_every_stock_scan_is_offered():
    assert sorted(set(STOCK) - set(OURS)) == []


@pytest.mark.parametrize("name", sorted(STOCK))
def test_entry_matches_stock(name: str):
    ours, stock = OURS[name], STOCK[name]
    for key in sorted(set(stock) - {"doc", "signature"}):
        assert ours.get(key) == stock[key], f"{name}.{key}"
    assert [p["name"] for p in ours["signature"]] == [p["name"] for p in stock["signature"]]
    for mine, theirs in zip(ours["signature"], stock["signature"], strict=True):
        assert mine == theirs, f"{name}: parameter {theirs['name']}"


@pytest.mark.parametrize("name", sorted(STOCK))
def test_doc_as_the_client_shows_it(name: str):
    ours, stock = OURS[name]["doc"], STOCK[name]["doc"]
    assert ours.splitlines()[0] == stock.splitlines()[0]
    assert _args_section(ours) == _args_section(stock)


def test_published_annotations_carry_every_scan_argument_field():
    """On the wire the metadata is complete, as stock sends it (the reference drops unset fields)."""
    steps = next(p for p in available_scans()["line_scan"]["signature"] if p["name"] == "steps")
    meta = steps["annotation"]["Annotated"]["metadata"]["ScanArgument"]
    assert len(meta) == 15 and meta["gt"] == 0.0 and meta["display_name"] == "Number of Steps"
