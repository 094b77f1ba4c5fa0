"""bec_dap.fitting: lmfit fits with stock's result shape, and clear errors for what cannot be fitted."""

from __future__ import annotations

import numpy as np
import pytest
from bec_dap.errors import DAPDataError, DAPRequestError, FitError
from bec_dap.fitting import FitData, FitOptions, fit

CENTER, SIGMA, AMPLITUDE = 5.0, 1.0, 200.0


def gaussian(n: int = 200, noise: float = 2.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(0, 10, n)
    y = AMPLITUDE * np.exp(-((x - CENTER) ** 2) / (2 * SIGMA**2))
    return x, y + np.random.default_rng(seed).normal(0, noise, n)


def test_gaussian_fit_finds_the_centre_with_errors_and_curve() -> None:
    x, y = gaussian()
    curve, report = fit("GaussianModel", FitData(x, y, {"scan_id": "s1"}), FitOptions())
    params, errors = report["fit_parameters"], report["fit_errors"]
    assert set(params) == {"amplitude", "center", "sigma"}
    assert errors["center"] is not None and 0 < errors["center"] < 0.05
    assert abs(params["center"] - CENTER) < 5 * errors["center"]
    assert abs(params["sigma"] - SIGMA) < 0.05
    np.testing.assert_array_equal(curve["x"], x)
    assert curve["y"].shape == x.shape
    assert np.max(np.abs(curve["y"] - AMPLITUDE * np.exp(-((x - CENTER) ** 2) / 2))) < 5
    assert report["input"] == {"scan_id": "s1", "parameters": {}}
    summary = report["fit_summary"]
    assert summary["success"] is True and summary["ndata"] == x.size
    assert {p[0] for p in summary["params"]} >= {"amplitude", "center", "sigma"}


def test_x_range_and_oversample_evaluate_the_curve_over_the_whole_scan() -> None:
    x, y = gaussian()
    curve, report = fit("GaussianModel", FitData(x, y), FitOptions(x_min=3, x_max=7, oversample=2))
    assert report["fit_summary"]["ndata"] == int(np.sum((x >= 3) & (x <= 7)))
    assert curve["x"].size == 2 * x.size
    assert curve["x"][0] == x[0] and curve["x"][-1] == x[-1]
    assert abs(report["fit_parameters"]["center"] - CENTER) < 0.05


def test_parameter_settings_are_applied_and_reported() -> None:
    x, y = gaussian()
    _, report = fit(
        "GaussianModel", FitData(x, y), FitOptions(parameters={"sigma": {"value": 1.5, "vary": False}})
    )
    assert report["fit_parameters"]["sigma"] == 1.5
    assert report["input"]["parameters"]["sigma"]["vary"] is False


def test_composite_model_has_prefixed_parameters() -> None:
    x, y = gaussian()
    y = y + 3.0
    _, report = fit(["GaussianModel", "ConstantModel"], FitData(x, y), FitOptions())
    assert abs(report["fit_parameters"]["GaussianModel_0_center"] - CENTER) < 0.05
    assert abs(report["fit_parameters"]["ConstantModel_1_c"] - 3.0) < 1.0


def test_non_finite_points_are_left_out() -> None:
    x, y = gaussian()
    y[::10] = np.nan
    _, report = fit("GaussianModel", FitData(x, y), FitOptions())
    assert report["fit_summary"]["ndata"] == x.size - x[::10].size


@pytest.mark.parametrize(
    ("model", "data", "options", "error", "text"),
    [
        ("NoSuchModel", gaussian(), FitOptions(), DAPRequestError, "unknown model 'NoSuchModel'"),
        ("GaussianModel", (np.arange(2.0), np.arange(2.0)), FitOptions(), DAPDataError, "at least 3"),
        ("GaussianModel", gaussian(), FitOptions(x_min=20), DAPDataError, "within x in [20.0, inf]"),
        ("GaussianModel", (np.arange(5.0), np.arange(4.0)), FitOptions(), DAPDataError, "different lengths"),
        (
            "GaussianModel",
            gaussian(),
            FitOptions(parameters={"centre": 1}),
            DAPRequestError,
            "unknown parameter 'centre'",
        ),
        ("GaussianModel", gaussian(), FitOptions(parameters=[1, 2]), DAPRequestError, "must be a dict"),
        ("GaussianModel", gaussian(), FitOptions(oversample=0), DAPRequestError, "oversample must be > 0"),
        ("GaussianModel", gaussian(), FitOptions(max_nfev=2), FitError, "GaussianModel fit did not converge"),
    ],
    ids=[
        "unknown-model",
        "too-few",
        "empty-range",
        "lengths",
        "bad-param",
        "params-type",
        "oversample",
        "no-convergence",
    ],
)
def test_what_cannot_be_fitted_says_why(model, data, options, error, text) -> None:
    with pytest.raises(error) as info:
        fit(model, FitData(*data), options)
    assert text in str(info.value)
