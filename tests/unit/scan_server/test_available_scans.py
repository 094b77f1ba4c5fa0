"""The available_scans resource is produced from the scan declarations, in BEC's format."""

from __future__ import annotations

import inspect

import pytest
from bec_scan_server.scans import SCANS, available_scans

from bec_core.messages import AvailableResourceMessage
from bec_core.serialization import dumps, loads

REQUIRED_KEYS = {
    "class",
    "base_class",
    "is_scan",
    "is_internal",
    "arg_input",
    "required_kwargs",
    "arg_bundle_size",
    "doc",
    "signature",
    "gui_visibility",
    "position_preview",
    "position_preview_parameter_mapping",
}


def test_every_scan_is_described():
    resource = available_scans()
    for name in (
        "mv",
        "umv",
        "line_scan",
        "grid_scan",
        "list_scan",
        "time_scan",
        "fermat_scan",
        "round_scan",
        "cont_line_scan",
        "acquire",
        "device_rpc",
    ):
        assert REQUIRED_KEYS <= set(resource[name]), name
    assert resource["device_rpc"]["is_internal"] is True
    assert resource["mv"]["is_scan"] is False and resource["line_scan"]["is_scan"] is True


def test_line_scan_entry_matches_the_reference():
    entry = available_scans()["line_scan"]
    assert entry["class"] == "LineScan" and entry["base_class"] == "ScanBaseV4"
    assert entry["arg_bundle_size"] == {"bundle": 3, "min": 1, "max": None}
    assert list(entry["arg_input"]) == ["device", "start", "stop"]
    assert entry["arg_input"]["device"] == "DeviceBase"
    sig = {p["name"]: p for p in entry["signature"]}
    assert entry["signature"][0] == {
        "name": "args",
        "kind": "VAR_POSITIONAL",
        "default": "_empty",
        "annotation": "_empty",
    }
    assert sig["steps"]["kind"] == "KEYWORD_ONLY" and sig["steps"]["default"] == "_empty"
    assert sig["relative"]["default"] == "_empty"
    assert sig["exp_time"]["default"] == 0.0
    assert entry["signature"][-1]["kind"] == "VAR_KEYWORD"


def test_positional_scan_signature():
    sig = available_scans()["fermat_scan"]["signature"]
    assert [p["name"] for p in sig[:3]] == ["motor1", "start_motor1", "stop_motor1"]
    assert (
        sig[0]["kind"] == "POSITIONAL_OR_KEYWORD"
        and sig[0]["annotation"]["Annotated"]["type"] == "DeviceBase"
    )
    assert available_scans()["fermat_scan"]["arg_bundle_size"]["bundle"] == 0


def test_resource_survives_the_wire():
    msg = AvailableResourceMessage(resource=available_scans())
    assert loads(dumps(msg)) == msg


def test_stock_bec_lib_builds_signatures_and_requests():
    sig_mod = pytest.importorskip("bec_lib.signature_serializer")
    from bec_lib.scan_input_validator import ScanInputValidator

    resource = available_scans(SCANS)
    for name, info in resource.items():
        signature = sig_mod.dict_to_signature(info["signature"])
        assert isinstance(signature, inspect.Signature), name

    class Dev:  # what the validator checks: an instance of bec_lib's DeviceBase
        pass

    from bec_lib.device import DeviceBase

    samx = DeviceBase(name="samx")
    args, kwargs = ScanInputValidator().validate(
        "line_scan", resource["line_scan"], (samx, -5, 5), {"steps": 10, "relative": False}
    )
    assert kwargs["steps"] == 10 and args[0] is samx
    del Dev
