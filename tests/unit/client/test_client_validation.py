"""Argument checks before anything is sent, and their messages."""

from __future__ import annotations

import pytest

from bec_core.client.errors import ScanArgumentError, UnknownDeviceError
from bec_core.client.signature import build_signature
from bec_core.client.validation import bundle_args, validate_call


def check(available_scans, devices, name, *args, **kwargs):
    info = available_scans[name]
    return validate_call(name, info, build_signature(info["signature"]), args, kwargs, devices.resolve)


def test_valid_line_scan(available_scans, devices):
    args, kwargs = check(available_scans, devices, "line_scan", devices.samx, -1, 1, steps=5, relative=False)
    assert args == [devices.samx, -1, 1]
    assert kwargs == {"steps": 5, "relative": False}


def test_device_names_are_resolved(available_scans, devices):
    args, _ = check(available_scans, devices, "line_scan", "samx", -1, 1, steps=5, relative=False)
    assert args[0] is devices.samx


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((-1, 1), {"steps": 5, "relative": False}, "bundles of 3"),
        (("@samx", -1, 1), {"steps": 5}, "missing a required argument: 'relative'"),
        (
            ("@samx", "a", 1),
            {"steps": 5, "relative": False},
            "'start' of bundle 1 must be a number, got str 'a'",
        ),
        (("@samx", -1, 1), {"steps": 5.5, "relative": False}, "'steps' must be an integer"),
        (("@samx", -1, 1), {"steps": 0, "relative": False}, "'steps' must be >= 1, got 0"),
        (("@samx", -1, 1), {"steps": 5, "relative": "no"}, "'relative' must be True or False"),
        (
            ("@samx", -1, 1),
            {"step": 5, "relative": False},
            "unexpected keyword argument 'step' (did you mean 'steps'?)",
        ),
        (("@samx", -1, 1), {"steps": 5, "relative": False, "exp_time": -1}, "'exp_time' must be >= 0"),
        ((), {"steps": 5, "relative": False}, "at least 1 bundle"),
        ((1, -1, 1), {"steps": 5, "relative": False}, "must be a device"),
    ],
)
def test_bad_calls_have_clear_messages(available_scans, devices, args, kwargs, message):
    args = tuple(devices.samx if a == "@samx" else a for a in args)
    with pytest.raises(ScanArgumentError) as info:
        check(available_scans, devices, "line_scan", *args, **kwargs)
    assert message in str(info.value)
    assert str(info.value).startswith("line_scan()")


def test_unknown_device(available_scans, devices):
    with pytest.raises(
        UnknownDeviceError,
        match=r"unknown device 'samq' \(did you mean 'sam[xy]'\?\); known devices: bpm4i, samx, samy",
    ):
        check(available_scans, devices, "line_scan", "samq", -1, 1, steps=5, relative=False)


def test_list_scan_positions(available_scans, devices):
    args, _ = check(available_scans, devices, "list_scan", devices.samx, (1, 2.5), relative=False)
    assert args == [devices.samx, [1, 2.5]]
    with pytest.raises(ScanArgumentError, match=r"'positions' of bundle 1\[1\] must be a number"):
        check(available_scans, devices, "list_scan", devices.samx, [1, "x"], relative=False)


def test_grid_scan_needs_two_bundles(available_scans, devices):
    with pytest.raises(ScanArgumentError, match="at least 2 bundle"):
        check(available_scans, devices, "grid_scan", devices.samx, -1, 1, 3, relative=False)


def test_positional_scan(available_scans, devices):
    args, _kwargs = check(
        available_scans, devices, "fermat_scan", devices.samx, -1, 1, devices.samy, -1, 1, 0.5, relative=True
    )
    assert args == [devices.samx, -1, 1, devices.samy, -1, 1, 0.5]
    with pytest.raises(ScanArgumentError, match="'step' must be > 0"):
        check(
            available_scans,
            devices,
            "fermat_scan",
            devices.samx,
            -1,
            1,
            devices.samy,
            -1,
            1,
            0,
            relative=True,
        )


def test_client_kwargs_pass(available_scans, devices):
    _, kwargs = check(
        available_scans,
        devices,
        "line_scan",
        devices.samx,
        -1,
        1,
        steps=2,
        relative=False,
        md={"a": 1},
        hide_report=True,
    )
    assert kwargs == {"steps": 2, "relative": False}


def test_bundling_is_stock_format(devices):
    assert bundle_args([devices.samx, -1, 1, devices.samy, 0, 2], 3) == {
        devices.samx: [-1, 1],
        devices.samy: [0, 2],
    }
    assert bundle_args([devices.samx, 1], 0) == [devices.samx, 1]
