"""One lmfit fit: data in, the stock-shaped result out (pure, synchronous, thread-safe).

The result is what stock BEC's DAP returns, a pair ``(curve, report)``:

* ``curve = {"x": ..., "y": ...}``: the fitted curve, on the scan's x values (or on
  ``oversample`` times as many points spanning them);
* ``report = {"input": {...}, "fit_parameters": {name: value}, "fit_summary": {...},
  "fit_errors": {name: stderr}}``: ``fit_parameters`` are lmfit's best values,
  ``fit_summary`` lmfit's ``ModelResult.summary()`` (chi-square, covariance, each
  parameter with its error, ...), ``fit_errors`` the standard errors by name (None where
  lmfit could not estimate them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lmfit
import numpy as np

from bec_dap.errors import DAPDataError, DAPRequestError, FitError
from bec_dap.models import model_class
from bec_dap.params import apply_overrides, complete, parameter_overrides, serialize_parameters

MIN_POINTS = 3


@dataclass
class FitData:
    """The points to fit and where they came from."""

    x: np.ndarray
    y: np.ndarray
    source: dict[str, Any] | None = None
    """``scan_id``, ``device_x``, ``signal_x``, ``device_y``, ``signal_y`` for scan data."""


@dataclass
class FitOptions:
    """What the request asked for besides the data."""

    parameters: Any = None
    x_min: float | None = None
    x_max: float | None = None
    oversample: float = 1
    max_nfev: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def build_model(model: Any) -> tuple[lmfit.Model, list[lmfit.Model]]:
    """The lmfit model for ``class_kwargs["model"]``: a name, or a list of names for a sum.

    Components of a sum get the prefix ``<Name>_<index>_`` (``GaussianModel_0_center``).
    """
    if isinstance(model, (list, tuple)):
        if not model:
            raise DAPRequestError("a composite model needs at least one model name")
        parts = [model_class(name)(prefix=f"{name}_{i}_") for i, name in enumerate(model)]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total, parts
    instance = model_class(model)()
    return instance, [instance]


def _as_array(values: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise DAPDataError(f"{what} is not a list of numbers") from None
    return arr


def _start_parameters(
    model: lmfit.Model, parts: Sequence[lmfit.Model], x: np.ndarray, y: np.ndarray, overrides: Mapping
) -> lmfit.Parameters:
    params: lmfit.Parameters | None = None
    if not complete(overrides, model):
        if len(parts) == 1:  # the guess is a full parameter set already (one Parameters less to build)
            try:
                params = parts[0].guess(y, x=x)
            except Exception:  # no guess for this model (or it failed): lmfit's defaults
                params = None
        else:
            params = model.make_params()
            for part in parts:
                try:
                    params.update(part.guess(y, x=x))
                except Exception:
                    pass
    if params is None:
        params = model.make_params()
    apply_overrides(params, overrides)
    return params


def fit(model_spec: Any, data: FitData, options: FitOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit ``data`` with the model; returns ``(curve, report)``.

    Raises:
        DAPRequestError: unknown model or bad parameters / options.
        DAPDataError: fewer than three finite points (within ``x_min``..``x_max``).
        FitError: lmfit raised, or the fit did not converge, or gave non-finite values.
    """
    model, parts = build_model(model_spec)
    name = model_spec if isinstance(model_spec, str) else "+".join(map(str, model_spec))
    x_all = _as_array(data.x, "x data")
    y_all = _as_array(data.y, "y data")
    if x_all.size != y_all.size:
        raise DAPDataError(f"x and y have different lengths ({x_all.size} and {y_all.size})")
    keep = np.isfinite(x_all) & np.isfinite(y_all)
    lo = -math.inf if options.x_min is None else float(options.x_min)
    hi = math.inf if options.x_max is None else float(options.x_max)
    keep &= (x_all >= lo) & (x_all <= hi)
    x, y = x_all[keep], y_all[keep]
    if x.size < MIN_POINTS:
        where = "" if options.x_min is None and options.x_max is None else f" within x in [{lo}, {hi}]"
        raise DAPDataError(
            f"{x.size} finite point(s){where} of {x_all.size}; a fit needs at least {MIN_POINTS}"
        )
    overrides = parameter_overrides(options.parameters, model)
    try:
        oversample = float(options.oversample)
    except (TypeError, ValueError):
        raise DAPRequestError(f"oversample must be a number, not {options.oversample!r}") from None
    if not oversample > 0:
        raise DAPRequestError(f"oversample must be > 0, not {options.oversample!r}")
    params = _start_parameters(model, parts, x, y, overrides)
    fit_kws = {"max_nfev": int(options.max_nfev)} if options.max_nfev else {}
    try:
        result = model.fit(y, params=params, x=x, **fit_kws)
    except Exception as exc:
        raise FitError(f"{name} fit failed: {exc}") from None
    if not result.success:
        raise FitError(f"{name} fit did not converge: {result.message}")
    bad = [k for k, v in result.best_values.items() if not np.isfinite(v)]
    if bad:
        raise FitError(f"{name} fit did not converge: non-finite {', '.join(bad)}")

    if keep.all() and oversample == 1:
        x_out, y_out = x_all, np.asarray(result.best_fit, dtype=float)
    else:
        span = x_all[np.isfinite(x_all)]
        x_out = np.linspace(span.min(), span.max(), max(int(x_all.size * oversample), 2))
        y_out = np.asarray(model.eval(result.params, x=x_out), dtype=float)

    given = serialize_parameters(params) if overrides else {}
    inputs: dict[str, Any] = dict(data.source or {})
    inputs["parameters"] = given
    report = {
        "input": inputs,
        "fit_parameters": {k: float(v) for k, v in result.best_values.items()},
        "fit_summary": result.summary(),
        "fit_errors": {
            k: (float(p.stderr) if p.stderr is not None else None) for k, p in result.params.items()
        },
    }
    return {"x": x_out, "y": y_out}, report
