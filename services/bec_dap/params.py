"""lmfit parameters to and from the plain dicts BEC puts on the wire.

A parameter travels as ``{"name", "value", "vary", "min", "max", "expr", "brute_step"}``
(the shape stock clients send and read); on the way in any subset of those keys
is accepted, and ``name`` is taken from the key it is stored under.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lmfit

from bec_dap.errors import DAPRequestError

PARAM_FIELDS = ("value", "vary", "min", "max", "expr", "brute_step")


def serialize_parameter(param: lmfit.Parameter) -> dict[str, Any]:
    """One parameter as the wire dict."""
    return {
        "name": param.name,
        "value": param.value,
        "vary": param.vary,
        "min": param.min,
        "max": param.max,
        "expr": param.expr,
        "brute_step": param.brute_step,
    }


def serialize_parameters(params: lmfit.Parameters | None) -> dict[str, dict[str, Any]]:
    """All parameters, keyed by name (``{}`` for none)."""
    if not params:
        return {}
    return {name: serialize_parameter(p) for name, p in params.items()}


def parameter_overrides(raw: Any, model: lmfit.Model) -> dict[str, dict[str, Any]]:
    """The user's parameter settings, checked against the model's parameter names.

    ``raw`` is ``None``, or a mapping ``{name: {"value": ..., "vary": ..., ...}}`` (a bare
    number is taken as a start value). Derived parameters (``fwhm``, ``height``) are
    ignored, as stock ignores them.

    Raises:
        DAPRequestError: not a mapping, an unknown parameter name, or a field that is not one
            of the parameter fields.
    """
    if raw is None or raw == {} or raw == []:
        return {}
    if not isinstance(raw, Mapping):
        raise DAPRequestError(f"parameters must be a dict of parameter settings, not {type(raw).__name__}")
    known = set(model.param_names)
    derived = set(model.make_params()) - known
    out: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        if name in derived:
            continue
        if name not in known:
            raise DAPRequestError(
                f"unknown parameter {name!r} for {type(model).__name__}; it has {', '.join(sorted(known))}"
            )
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = {"value": float(spec)}
        if not isinstance(spec, Mapping):
            raise DAPRequestError(f"parameter {name!r}: expected a dict of settings, not {spec!r}")
        bad = set(spec) - {*PARAM_FIELDS, "name", "user_data"}
        if bad:
            raise DAPRequestError(
                f"parameter {name!r}: unknown field(s) {', '.join(sorted(bad))}; "
                f"use {', '.join(PARAM_FIELDS)}"
            )
        out[name] = {k: v for k, v in spec.items() if k in PARAM_FIELDS}
    return out


def apply_overrides(params: lmfit.Parameters, overrides: Mapping[str, Mapping[str, Any]]) -> None:
    """Set the user's settings on ``params`` (in place)."""
    for name, spec in overrides.items():
        fields = dict(spec)
        if "min" in fields and fields["min"] is None:
            fields["min"] = -math.inf
        if "max" in fields and fields["max"] is None:
            fields["max"] = math.inf
        try:
            params[name].set(**fields)
        except (TypeError, ValueError, SyntaxError, NameError) as exc:
            raise DAPRequestError(f"parameter {name!r}: {exc}") from None


def complete(overrides: Mapping[str, Mapping[str, Any]], model: lmfit.Model) -> bool:
    """True when the user gave a start value for every parameter (no guess needed)."""
    return bool(model.param_names) and all("value" in overrides.get(name, {}) for name in model.param_names)
