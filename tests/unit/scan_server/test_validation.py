"""Argument validation against the scan declarations."""

from __future__ import annotations

import pytest
from bec_scan_server.scans import SCANS
from bec_scan_server.validation import RequestError, bind, build


def params(args=None, **kwargs):
    return {"args": args if args is not None else [], "kwargs": kwargs}


def test_line_scan_as_a_stock_client_sends_it():
    scan = build(
        SCANS["line_scan"],
        params(
            {"samx": [-5, 5]},
            steps=10,
            exp_time=0.1,
            relative=False,
            system_config={"file_suffix": None, "file_directory": None},
        ),
    )
    assert scan.motors() == ["samx"]
    assert scan.num_points() == 10
    assert scan.exp_time == 0.1
    assert scan.bound.client["system_config"] == {"file_suffix": None, "file_directory": None}
    assert scan.positions[0, 0] == -5 and scan.positions[-1, 0] == 5
    assert scan.report_instructions() == [{"scan_progress": {"points": 10, "show_table": True}}]


def test_flat_args_are_bundled():
    scan = build(SCANS["line_scan"], params(["samx", -1, 1, "samy", 0, 2], steps=3, relative=True))
    assert scan.motors() == ["samx", "samy"]
    assert scan.positions.shape == (3, 2)


def test_defaults_applied():
    bound = bind(SCANS["line_scan"], params({"samx": [0, 1]}, steps=2, relative=False))
    assert bound.values["exp_time"] == 0.0
    assert bound.values["frames_per_trigger"] == 1
    assert bound.values["burst_at_each_point"] == 1


@pytest.mark.parametrize(
    ("scan", "parameter", "expected"),
    [
        ("line_scan", params({"samx": [-5, 5]}, relative=False), "missing required argument(s): 'steps'"),
        ("line_scan", params({"samx": [-5, 5]}, steps=10), "missing required argument(s): 'relative'"),
        (
            "line_scan",
            params({"samx": [-5, 5]}, steps=10, relative=False, speed=3),
            "unexpected keyword argument 'speed'",
        ),
        (
            "line_scan",
            params({"samx": [-5, 5]}, steps="ten", relative=False),
            "argument 'steps' must be an int, got 'ten' (str)",
        ),
        ("line_scan", params({"samx": [-5, 5]}, steps=0, relative=False), "argument 'steps' must be > 0"),
        ("line_scan", params({"samx": [-5]}, steps=3, relative=False), "samx needs 2 value(s) (start, stop)"),
        (
            "line_scan",
            params({"samx": ["a", 5]}, steps=3, relative=False),
            "argument 'start' must be a finite number",
        ),
        ("line_scan", params({}, steps=3, relative=False), "needs at least 1 device bundle(s)"),
        ("line_scan", params({"samx": [0, 1]}, steps=3, relative="no"), "must be True or False"),
        ("grid_scan", params({"samx": [0, 1, 3]}, relative=False), "needs at least 2 device bundle(s)"),
        (
            "fermat_scan",
            params(["samx", -5, 5, "samy", -5, 5, 0.5, 9], relative=False),
            "takes 7 positional argument(s) but 8 were given",
        ),
        (
            "fermat_scan",
            params(["samx", -5, 5, "samy"], relative=False),
            "missing required argument(s): 'start_motor2', 'stop_motor2'",
        ),
        (
            "fermat_scan",
            params(["samx", -5, 5, "samx", -5, 5], step=0.5, relative=False),
            "must be different devices",
        ),
        ("list_scan", params({"samx": [[0, 1, 2]], "samy": [[0, 1]]}, relative=False), "same length"),
        (
            "round_scan",
            params(["samx", "samy", 5, 1, 2, 3], relative=False),
            "0 <= inner_radius < outer_radius",
        ),
        ("line_scan", params(5, steps=3, relative=False), "'args' must be a list or a dict"),
        ("line_scan", {"args": {"samx": [0, 1]}, "kwargs": [1]}, "'kwargs' must be a dict"),
    ],
)
def test_rejections_say_what_is_wrong(scan, parameter, expected):
    with pytest.raises(RequestError) as err:
        build(SCANS[scan], parameter)
    assert expected in str(err.value)
    assert str(err.value).startswith(scan)


def test_int_accepts_whole_floats_and_float_accepts_ints():
    scan = build(SCANS["line_scan"], params({"samx": [-5, 5]}, steps=4.0, relative=False))
    assert scan.kw["steps"] == 4
    assert isinstance(scan.bound.bundles[0][1][0], float)


def test_time_scan_and_acquire_need_no_relative():
    assert build(SCANS["time_scan"], params([5, 0.1])).num_points() == 5
    acquire = build(SCANS["acquire"], params(burst_at_each_point=3))
    assert acquire.num_points() == 1 and acquire.num_readouts() == 3
    assert acquire.motors() == []


def test_device_rpc_as_the_stock_client_sends_it():
    scan = build(
        SCANS["device_rpc"],
        params(
            device="samx", func="velocity.get", func_args=[], func_kwargs={}, rpc_id="r1", system_config={}
        ),
    )
    assert scan.devices() == ["samx"] and scan.read_only
    assert not build(
        SCANS["device_rpc"], params(device="samx", func="velocity.set", func_args=[2], rpc_id="r2")
    ).read_only


def test_umv_targets_and_report():
    scan = build(SCANS["umv"], params({"samx": [1.5]}, relative=True))
    assert scan.targets({"samx": 2.0}) == {"samx": (3.5, 3.5)}
    assert not scan.is_scan and scan.needs_positions
