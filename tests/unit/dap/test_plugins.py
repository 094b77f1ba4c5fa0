"""The models bec-dap announces match what stock BEC 4.3.2's DAP announces (recorded in
tests/data/dap/stock_available_plugins.json by tests/data/dap/record_stock_plugins.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bec_dap.models import FIT_SIGNATURE, available_plugins

STOCK = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "dap" / "stock_available_plugins.json").read_text()
)
OURS = available_plugins()


def test_the_same_models_as_stock() -> None:
    assert sorted(OURS) == sorted(STOCK["models"])
    assert {"GaussianModel", "LorentzianModel", "VoigtModel", "LinearModel"} <= set(OURS)


def test_fit_signature_is_stocks() -> None:
    assert FIT_SIGNATURE == STOCK["signature"]


@pytest.mark.parametrize("name", sorted(STOCK["models"]))
def test_model_description_is_stocks(name: str) -> None:
    ours, stock = OURS[name], STOCK["models"][name]
    assert sorted(ours) == stock["keys"]
    for key in (
        "class",
        "user_friendly_name",
        "run_name",
        "auto_run_supported",
        "class_args",
        "class_kwargs",
    ):
        assert ours[key] == stock[key], key
    assert json.loads(json.dumps(ours["params"])) == stock["params"]
    assert bool(ours["class_doc"]) == stock["has_class_doc"] and bool(ours["run_doc"]) == stock["has_run_doc"]


def test_descriptions_decode_in_stock_bec_lib() -> None:
    messages = pytest.importorskip("bec_lib.messages")
    from bec_lib.serialization import MsgpackSerialization
    from bec_lib.signature_serializer import dict_to_signature

    from bec_core.messages import AvailableResourceMessage
    from bec_core.serialization import dumps

    theirs = MsgpackSerialization.loads(dumps(AvailableResourceMessage(resource=OURS)))
    assert isinstance(theirs, messages.AvailableResourceMessage)
    signature = dict_to_signature(theirs.resource["GaussianModel"]["signature"])
    assert list(signature.parameters)[:5] == ["scan_item", "device_x", "signal_x", "device_y", "signal_y"]
