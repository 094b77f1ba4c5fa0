"""The lmfit models offered, and how they are announced to clients.

Clients find the fitting models under ``user/dap/available_plugins/DAPServer/LmfitService1D``
(an AvailableResourceMessage): one entry per lmfit 1-D built-in model, in the shape stock
BEC's ``bec.dap`` builds ``bec.dap.<Model>.fit(...)`` from (class, user-friendly name, doc
strings, the ``fit`` signature, default parameters, class arguments).
"""

from __future__ import annotations

import inspect
from typing import Any

import lmfit
import lmfit.models

from bec_dap.errors import DAPRequestError
from bec_dap.params import serialize_parameters

#: The plugin class name clients put in ``DAPRequestMessage.dap_cls`` (and stock's client
#: looks up in ``bec_lib.dap_plugin_objects``).
PLUGIN_CLASS = "LmfitService1D"

#: lmfit model classes that are not 1-D fits of y(x) with built-in guesses.
_EXCLUDED = frozenset({"Model", "ExpressionModel", "SplineModel", "Gaussian2dModel"})

_FIT_DOC = """
        Args:
            scan_item (ScanItem | str): the scan (a scan item, report or scan ID); default: the latest
            device_x (DeviceBase | str): device of the x axis
            signal_x (DeviceBase | str): signal of the x axis (default: the device's hinted signal)
            device_y (DeviceBase | str): device of the y axis
            signal_y (DeviceBase | str): signal of the y axis (default: the device's hinted signal)
            data_x (np.ndarray): x data to fit instead of a scan
            data_y (np.ndarray): y data to fit instead of a scan
            x_min (float): fit only points with x >= x_min
            x_max (float): fit only points with x <= x_max
            parameters (dict): start values and limits, {name: {"value", "vary", "min", "max", "expr"}}
            oversample (int): evaluate the fitted curve on this many times as many points
        """


def _arg(name: str, annotation: Any, default: Any = None, kind: str = "POSITIONAL_OR_KEYWORD") -> dict:
    return {"name": name, "kind": kind, "default": default, "annotation": annotation}


#: The signature of ``fit(...)`` as clients receive it (bec_lib's serialized-signature shape).
FIT_SIGNATURE: list[dict[str, Any]] = [
    _arg("scan_item", ["ScanItem", "str"]),
    _arg("device_x", ["DeviceBase", "str"]),
    _arg("signal_x", ["DeviceBase", "str"]),
    _arg("device_y", ["DeviceBase", "str"]),
    _arg("signal_y", ["DeviceBase", "str"]),
    _arg("data_x", "ndarray"),
    _arg("data_y", "ndarray"),
    _arg("x_min", "float"),
    _arg("x_max", "float"),
    _arg("parameters", ["dict", "list", "NoneType"]),
    _arg("oversample", "int", 1),
    _arg("kwargs", "_empty", "_empty", "VAR_KEYWORD"),
]

#: Positional order of ``fit(...)`` arguments (for ``config["args"]``).
FIT_ARGUMENTS: tuple[str, ...] = tuple(a["name"] for a in FIT_SIGNATURE if a["kind"] != "VAR_KEYWORD")


def available_models() -> dict[str, type[lmfit.Model]]:
    """Every lmfit built-in 1-D model class, by class name (aliases such as ParabolicModel, which
    is QuadraticModel, are listed once under the class's own name, as stock lists them)."""
    found = {}
    for _alias, cls in inspect.getmembers(lmfit.models, inspect.isclass):
        if issubclass(cls, lmfit.Model) and cls.__name__ not in _EXCLUDED:
            found[cls.__name__] = cls
    return dict(sorted(found.items()))


MODELS: dict[str, type[lmfit.Model]] = available_models()


def model_class(name: Any) -> type[lmfit.Model]:
    """The model class called ``name``.

    Raises:
        DAPRequestError: no such model; the text lists the models offered.
    """
    cls = MODELS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise DAPRequestError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return cls


def describe_model(name: str, cls: type[lmfit.Model]) -> dict[str, Any]:
    """The plugin description of one model (the entry a client builds ``bec.dap.<name>`` from)."""
    class_doc = cls.__doc__ or cls.__init__.__doc__ or ""
    return {
        "class": PLUGIN_CLASS,
        "user_friendly_name": name,
        "class_doc": class_doc,
        "run_doc": class_doc + _FIT_DOC,
        "run_name": "fit",
        "signature": FIT_SIGNATURE,
        "auto_run_supported": True,
        "params": serialize_parameters(cls().make_params()),
        "class_args": [],
        "class_kwargs": {"model": name},
    }


def available_plugins() -> dict[str, dict[str, Any]]:
    """All plugin descriptions, keyed by model name."""
    return {name: describe_model(name, cls) for name, cls in MODELS.items()}
