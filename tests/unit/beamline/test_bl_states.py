"""State types: parameters validated as stock validates them, outcomes with stock's labels.

Where stock bec_lib is importable, each outcome is compared with the stock
``DeviceWithinLimitsState.evaluate`` of the same reading.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from bec_scan_server.beamline.catalog import StateConfigError, Target
from bec_scan_server.beamline.states import STATE_TYPES, WithinLimitsParameters, parse, within_limits

TARGET = Target(root="samx", dotted="samx", obj_name="samx", signal="samx")
PARAMS = {"name": "samx_ok", "device": "samx", "low_limit": -10.0, "high_limit": 10.0, "tolerance": 1.0}

CASES: list[tuple[Any, str, str]] = [
    (5.0, "valid", "Device samx within limits"),
    (np.float32(5.0), "valid", "Device samx within limits"),
    (20.0, "invalid", "Device samx out of limits"),
    (-10.5, "invalid", "Device samx out of limits"),
    (9.5, "warning", "Device samx near limits"),
    (-9.5, "warning", "Device samx near limits"),
    (10.0, "warning", "Device samx near limits"),
    (True, "valid", "Device samx within limits"),
    (math.nan, "invalid", "Device samx: Value samx is not a finite real scalar."),
    (math.inf, "invalid", "Device samx: Value samx is not a finite real scalar."),
    ("5", "invalid", "Device samx: Value samx is not a finite real scalar."),
    (None, "invalid", "Device samx: Value samx not found."),
]


@pytest.mark.parametrize(("value", "status", "label"), CASES)
def test_within_limits(value: Any, status: str, label: str) -> None:
    params = WithinLimitsParameters(**PARAMS)
    assert within_limits(params, TARGET, {"samx": {"value": value}}) == (status, label)


@pytest.mark.parametrize(("value", "status", "label"), CASES)
def test_within_limits_matches_stock(value: Any, status: str, label: str) -> None:
    bl_states = pytest.importorskip("bec_lib.bl_states")
    messages = pytest.importorskip("bec_lib.messages")
    state = bl_states.DeviceWithinLimitsState(config=bl_states.DeviceWithinLimitsStateConfig(**PARAMS))
    state.signal_name = "samx"
    state.device_obj = type("Dev", (), {"name": "samx", "dotted_name": "samx"})()
    stock = state.evaluate(messages.DeviceMessage(signals={"samx": {"value": value}}))
    assert (stock.status, stock.label) == (status, label)


def test_open_limits() -> None:
    params = WithinLimitsParameters(name="beam_ok", device="beam", low_limit=50)
    target = Target("beam", "beam", "beam", "beam")
    assert within_limits(params, target, {"beam": {"value": 1e9}})[0] == "valid"
    assert within_limits(params, target, {"beam": {"value": 50.05}})[0] == "warning"
    assert within_limits(params, target, {"beam": {"value": 10}})[0] == "invalid"


def test_parse_accepts_a_stock_config_dump() -> None:
    bl_states = pytest.importorskip("bec_lib.bl_states")
    config = bl_states.DeviceWithinLimitsStateConfig(name="s", device="samx", low_limit=0)
    kind, params = parse(config.state_type, config.model_dump())
    assert kind is STATE_TYPES["DeviceWithinLimitsState"]
    assert params.model_dump() == config.model_dump()


@pytest.mark.parametrize(
    ("state_type", "parameters", "why"),
    [
        ("DeviceBeamlineState", {"name": "s", "device": "samx"}, "is abstract"),
        ("BeamlineState", {"name": "s"}, "is abstract"),
        ("NoSuchState", {"name": "s"}, "is unknown"),
        ("DeviceWithinLimitsState", {"name": "class", "device": "samx"}, "reserved Python keyword"),
        ("DeviceWithinLimitsState", {"name": "add", "device": "samx"}, "is reserved"),
        ("DeviceWithinLimitsState", {"name": "a b", "device": "samx"}, "valid Python identifier"),
        ("DeviceWithinLimitsState", {"name": "s"}, "device: Field required"),
        ("DeviceWithinLimitsState", {"name": "s", "device": "x", "bogus": 1}, "bogus: Extra inputs"),
        (
            "DeviceWithinLimitsState",
            {"name": "s", "device": "x", "low_limit": 2, "high_limit": 1},
            "low_limit must be smaller than high_limit",
        ),
    ],
)
def test_parse_refuses_with_a_reason(state_type: str, parameters: dict, why: str) -> None:
    with pytest.raises(StateConfigError, match=why):
        parse(state_type, parameters)


def test_every_concrete_stock_state_type_is_offered() -> None:
    import inspect

    bl_states = pytest.importorskip("bec_lib.bl_states")
    concrete = {
        name
        for name, cls in vars(bl_states).items()
        if inspect.isclass(cls) and issubclass(cls, bl_states.BeamlineState) and not inspect.isabstract(cls)
    }
    assert concrete == set(STATE_TYPES)
