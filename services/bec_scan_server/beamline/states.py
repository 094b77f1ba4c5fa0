"""The beamline state types stock BEC 4.3.2 offers, as configurations plus an evaluation.

A stock client publishes ``BeamlineStateConfig(name, state_type, parameters)``
where ``state_type`` is a class name of ``bec_lib.bl_states`` and
``parameters`` the dump of its pydantic config. 4.3.2 has one concrete type,
``DeviceWithinLimitsState``; ``BeamlineState`` and ``DeviceBeamlineState`` are
abstract bases and are refused, as stock refuses them.

Each type here is its parameter model (validated as stock validates it) and a
pure function from one reading to ``(status, label)`` with stock's labels.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bec_core.messages import BlStateStatus
from bec_scan_server.beamline.catalog import StateConfigError, Target

#: Abstract state classes of bec_lib.bl_states: a configuration naming one is refused.
ABSTRACT_TYPES = frozenset({"BeamlineState", "DeviceBeamlineState"})


class StateParameters(BaseModel):
    """Parameters every state has: its name (a Python identifier, not reserved)."""

    model_config = ConfigDict(extra="forbid")
    name: str

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"State name '{value}' must be a valid Python identifier.")
        if keyword.iskeyword(value):
            raise ValueError(f"State name '{value}' cannot be a reserved Python keyword.")
        if value in {"add", "remove", "show_all"}:
            raise ValueError(f"State name '{value}' is reserved and cannot be used.")
        return value


class DeviceStateParameters(StateParameters):
    """A state computed from one signal of one device."""

    device: str
    signal: str | None = None


class WithinLimitsParameters(DeviceStateParameters):
    """``DeviceWithinLimitsState``: invalid outside [low, high], warning within ``tolerance`` of them."""

    low_limit: float | None = None
    high_limit: float | None = None
    tolerance: float = 0.1

    @model_validator(mode="after")
    def _ordered(self) -> WithinLimitsParameters:
        if self.low_limit is not None and self.high_limit is not None and self.low_limit >= self.high_limit:
            raise ValueError("low_limit must be smaller than high_limit.")
        return self


Outcome = tuple[BlStateStatus, str]


def within_limits(params: WithinLimitsParameters, target: Target, signals: dict[str, Any]) -> Outcome:
    """Evaluate a reading against the limits (labels as stock's ``DeviceWithinLimitsState``)."""
    entry = signals.get(target.signal)
    value = entry.get("value") if isinstance(entry, dict) else None
    if value is None:
        return "invalid", f"Device {target.obj_name}: Value {target.signal} not found."
    if not isinstance(value, (Real, np.bool_)) or not math.isfinite(float(value)):
        return "invalid", f"Device {target.dotted}: Value {target.signal} is not a finite real scalar."
    value = float(value)
    low = -math.inf if params.low_limit is None else params.low_limit
    high = math.inf if params.high_limit is None else params.high_limit
    if value < low or value > high:
        return "invalid", f"Device {target.dotted} out of limits"
    if value < low + params.tolerance or value > high - params.tolerance:
        return "warning", f"Device {target.dotted} near limits"
    return "valid", f"Device {target.dotted} within limits"


@dataclass(frozen=True, slots=True)
class StateType:
    """One state type: its parameter model and its evaluation of a device reading."""

    parameters: type[DeviceStateParameters]
    evaluate: Callable[[Any, Target, dict[str, Any]], Outcome]


#: Every concrete state type, by stock's class name.
STATE_TYPES: dict[str, StateType] = {
    "DeviceWithinLimitsState": StateType(WithinLimitsParameters, within_limits),
}


def parse(state_type: str, parameters: dict[str, Any]) -> tuple[StateType, DeviceStateParameters]:
    """The type and validated parameters of a configuration; :class:`StateConfigError` if invalid."""
    kind = STATE_TYPES.get(state_type)
    if kind is None:
        known = ", ".join(sorted(STATE_TYPES))
        why = "is abstract" if state_type in ABSTRACT_TYPES else "is unknown"
        raise StateConfigError(
            f"State type {state_type!r} is not a concrete beamline state ({why}; known: {known})."
        )
    try:
        return kind, kind.parameters(**parameters)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}" for err in exc.errors()
        )
        raise StateConfigError(f"invalid parameters for {state_type}: {problems}") from None
