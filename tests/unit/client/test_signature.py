"""Signatures and docstrings built from ``available_scans`` entries."""

from __future__ import annotations

import inspect
import typing

from bec_core.client.signature import (
    DeviceBase,
    ScanArgument,
    annotation_from_wire,
    build_doc,
    build_signature,
    split_annotation,
    type_name,
)


def test_line_scan_signature_has_the_scans_own_parameters(available_scans):
    sig = build_signature(available_scans["line_scan"]["signature"])
    params = sig.parameters
    assert list(params)[:3] == ["args", "steps", "relative"]
    assert params["args"].kind is inspect.Parameter.VAR_POSITIONAL
    assert params["relative"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["relative"].default is inspect.Parameter.empty
    assert params["exp_time"].default == 0.0
    base, meta = split_annotation(params["steps"].annotation)
    assert base is int and meta == ScanArgument(description="number of points", ge=1)


def test_positional_signature_of_fermat_scan(available_scans):
    sig = build_signature(available_scans["fermat_scan"]["signature"])
    assert sig.parameters["motor1"].annotation is DeviceBase
    assert sig.parameters["motor1"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert split_annotation(sig.parameters["step"].annotation)[1].bounds() == {"gt": 0}


def test_wire_annotations():
    assert annotation_from_wire("_empty") is inspect.Parameter.empty
    assert annotation_from_wire("float") is float
    assert annotation_from_wire({"Generic": {"origin": "list", "args": ["float"]}}) == list[float]
    assert annotation_from_wire(["float", "NoneType"]) == typing.Optional[float]  # noqa: UP045
    assert annotation_from_wire("SomethingElse") == "SomethingElse"  # never imported
    assert type_name(annotation_from_wire("DeviceBase")) == "device"


def test_unknown_kind_is_refused():
    import pytest

    with pytest.raises(ValueError, match="unknown kind"):
        build_signature([{"name": "x", "kind": "WHATEVER", "default": "_empty", "annotation": "_empty"}])


def test_doc_names_the_bundle(available_scans):
    doc = build_doc("line_scan", available_scans["line_scan"])
    assert doc.startswith("A line scan")
    assert "bundles of 3 (device: device, start: float, stop: float)" in doc


def test_scan_function_has_signature_and_help(available_scans):
    from bec_core.client.scans import Scans

    class Client:
        def notify(self, text):  # pragma: no cover - nothing is invalid here
            raise AssertionError(text)

    scans = Scans(Client())  # type: ignore[arg-type]
    scans._update(available_scans)
    assert "device_rpc" not in scans.names()  # internal
    assert "line_scan" in dir(scans)
    assert str(inspect.signature(scans.line_scan)).startswith("(*args, steps:")
    assert scans.line_scan.__doc__.startswith("A line scan")
    import pytest

    with pytest.raises(AttributeError, match="did you mean 'line_scan'"):
        scans.line_scn  # noqa: B018
