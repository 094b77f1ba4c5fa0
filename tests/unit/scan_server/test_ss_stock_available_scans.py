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
    assert list(ours["arg_input"]) == list(stock["arg_input"]), f"{name}: bundle order"
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


def _examples(doc: str) -> list[str]:
    return [line.strip()[4:] for line in doc.splitlines() if line.strip().startswith(">>> scans.")]


def _parse_call(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    import ast

    from bec_lib.device import DeviceBase

    call = ast.parse(text, mode="eval").body
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "dev":
            return DeviceBase(name=node.attr)
        return ast.literal_eval(node)

    return (
        call.func.attr,
        [value(a) for a in call.args],
        {k.arg: value(k.value) for k in call.keywords if k.arg},
    )


def _outcome(name: str, info: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    from bec_lib.device import DeviceBase
    from bec_lib.scan_input_validator import ScanInputValidator

    try:
        out_args, out_kwargs = ScanInputValidator().validate(name, info, args, dict(kwargs))
    except Exception as exc:
        return type(exc).__name__
    plain = [a.name if isinstance(a, DeviceBase) else a for a in out_args]
    return plain, out_kwargs


STOCK_EXAMPLES = [(name, example) for name in sorted(STOCK) for example in _examples(STOCK[name]["doc"])]


@pytest.mark.parametrize(
    ("name", "example"), STOCK_EXAMPLES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(STOCK_EXAMPLES)]
)
def test_stock_docstring_examples_bind_as_on_stock(name: str, example: str):
    """Stock's own docstring examples, checked by stock bec_lib's validator: same outcome against ours."""
    pytest.importorskip("bec_lib.scan_input_validator")
    scan, args, kwargs = _parse_call(example)
    assert scan == name
    ours = _outcome(name, json.loads(json.dumps(available_scans()))[name], args, kwargs)
    assert ours == _outcome(name, STOCK[name], args, kwargs)
