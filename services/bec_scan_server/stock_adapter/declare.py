"""A stock scan class as one of our scans: :class:`HostedScan` and :func:`hosted_class`.

The wrapper validates a request against the stock class's own constructor
signature (as stock's scan assembler does, scan modifier defaults included),
publishes stock's ``available_scans`` entry for it (computed with stock's own
helpers), and answers the runner's questions (positions, points, report
instructions, scan parameters) from the stock instance once it exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bec_scan_server.scans.args import CLIENT_KWARGS, Arg
from bec_scan_server.scans.base import BoundArgs, ScanBase
from bec_scan_server.validation import RequestError

if TYPE_CHECKING:
    from bec_core.config import ScanLimits
    from bec_scan_server.stock_adapter.host import StockHost

#: what stock's scan assembler passes to a scan class besides the request's arguments
INJECTED = ("scan_id", "redis_connector", "device_manager", "instruction_handler", "request_inputs")


def is_stock_scan(cls: type) -> bool:
    """True for a scan class derived from stock BEC's ``ScanBase`` with a scan name."""
    try:
        from bec_server.scan_server.scans.scan_base import ScanBase as StockScanBase
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, StockScanBase) and bool(getattr(cls, "scan_name", ""))


def scan_modifier() -> Any:
    """The installed ``bec.scans.scan_modifier`` class (stock's lookup), or None."""
    from bec_server.scan_server.scans.scan_argument_modifier import get_scan_modifier

    return get_scan_modifier()


def reset_discovery() -> None:
    """Forget stock's cached plugin lookups (the scan modifier), as stock's ``reload_scans`` does."""
    try:
        from bec_lib import plugin_helper
        from bec_server.scan_server.scans.scan_argument_modifier import get_scan_modifier
    except Exception:
        return
    get_scan_modifier.cache_clear()
    for cached in ("_get_available_plugins", "_import_module"):
        clear = getattr(getattr(plugin_helper, cached, None), "cache_clear", None)
        if clear is not None:
            clear()


def stock_description(stock_cls: type) -> dict[str, Any]:
    """The ``available_scans`` entry stock 4.3.2 publishes for ``stock_cls`` (modifiers applied)."""
    from bec_lib.device import DeviceBase
    from bec_lib.signature_serializer import serialize_dtype
    from bec_server.scan_server.scans.scan_argument_modifier import (
        scan_doc_with_modifiers,
        scan_signature_with_modifiers,
    )

    arg_input = {}
    for key, dtype in (getattr(stock_cls, "arg_input", {}) or {}).items():
        if inspect.isclass(dtype) and issubclass(dtype, DeviceBase):
            dtype = DeviceBase
        arg_input[key] = serialize_dtype(dtype)
    gui = getattr(stock_cls, "gui_visibility", None)
    if gui is None:
        gui = getattr(stock_cls, "gui_config", {})
    return {
        "class": stock_cls.__name__,
        "base_class": "ScanBaseV4",
        "is_scan": bool(getattr(stock_cls, "is_scan", False)),
        "is_internal": bool(getattr(stock_cls, "is_internal", False)),
        "arg_input": arg_input,
        "required_kwargs": list(getattr(stock_cls, "required_kwargs", [])),
        "arg_bundle_size": dict(stock_cls.arg_bundle_size),
        "doc": scan_doc_with_modifiers(stock_cls),
        "signature": scan_signature_with_modifiers(stock_cls),
        "gui_visibility": gui,
        "position_preview": getattr(stock_cls, "position_preview", None),
        "position_preview_parameter_mapping": getattr(stock_cls, "position_preview_parameter_mapping", {}),
    }


def flat_args(args: Any) -> list[Any]:
    """A request's ``args`` as one positional list (a ``{device: [values]}`` map flattened)."""
    if not args:
        return []
    if isinstance(args, Mapping):
        out: list[Any] = []
        for device, values in args.items():
            out.append(device)
            out.extend(values if isinstance(values, Sequence) and not isinstance(values, str) else [values])
        return out
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise RequestError(f"'args' must be a list or a dict, got {type(args).__name__}")
    return list(args)


class HostedScan(ScanBase):
    """A request for a stock scan class; the stock instance is made when the item runs."""

    hosted: ClassVar[bool] = True
    stock_class: ClassVar[type]
    host: ClassVar[StockHost]
    description: ClassVar[dict[str, Any]] = {}
    returns_to_start: ClassVar[bool] = False  # the class returns its motors itself (on_exception)

    def __init__(self, bound: BoundArgs, args: list[Any], kwargs: dict[str, Any]) -> None:
        super().__init__(bound)
        self.relative = False  # the stock instance's positions are absolute already
        self.args = args
        self.kwargs = kwargs
        self.instance: Any = None

    # ------------------------------------------------------------------ declaration
    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Stock's own entry for the class."""
        return cls.description

    @classmethod
    def from_request(cls, parameter: Any, limits: ScanLimits | None = None) -> HostedScan:
        """Check a request's arguments against the stock constructor; raise :class:`RequestError`."""
        name = cls.scan_name
        if not isinstance(parameter, Mapping):
            raise RequestError(f"{name}: 'parameter' must be a dict with 'args' and 'kwargs'")
        try:
            args = flat_args(parameter.get("args"))
        except RequestError as exc:
            raise RequestError(f"{name}: {exc}") from None
        kwargs = parameter.get("kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise RequestError(f"{name}: 'kwargs' must be a dict")
        kwargs = dict(kwargs)
        size = int(cls.stock_class.arg_bundle_size.get("bundle") or 0)
        bundles: list[tuple[str, list[Any]]] = []
        if size:
            if len(args) % size:
                raise RequestError(f"{name}: arguments come in groups of {size}; got {len(args)} values")
            bundles = [(args[i], args[i + 1 : i + size]) for i in range(0, len(args), size)]
            low, high = cls.stock_class.arg_bundle_size.get("min"), cls.stock_class.arg_bundle_size.get("max")
            if low is not None and len(bundles) < low:
                raise RequestError(f"{name}: needs at least {low} device bundle(s), got {len(bundles)}")
            if high is not None and len(bundles) > high:
                raise RequestError(f"{name}: takes at most {high} device bundle(s), got {len(bundles)}")
            bad = [d for d, _ in bundles if not isinstance(d, str) or not d]
            if bad:
                raise RequestError(f"{name}: {bad[0]!r} is not a device name")
        injected = dict.fromkeys(INJECTED)
        try:
            inspect.signature(cls.stock_class).bind(*args, **{**kwargs, **injected})
        except TypeError as exc:
            raise RequestError(f"{name}: {exc}") from None
        values = {k: v for k, v in kwargs.items() if k not in CLIENT_KWARGS}
        inputs: dict[str, Any] = {}
        if not size:  # named positional inputs, as stock's assembler records them in request_inputs
            inputs, named = _request_inputs(cls.stock_class, args, values)
            values = {**inputs, **named}
        bound = BoundArgs(
            bundles=bundles, values=values, client={k: v for k, v in kwargs.items() if k in CLIENT_KWARGS}
        )
        scan = cls(bound, args, kwargs)
        # the runner's request_inputs: ``inputs`` are the arguments named here, ``kwargs`` the rest
        scan.positional = tuple(Arg(name, "list") for name in inputs)  # type: ignore[misc]
        return scan

    # ------------------------------------------------------------------ answers from the instance
    def _info(self) -> Any:
        return None if self.instance is None else self.instance.scan_info

    def compute_positions(self) -> np.ndarray:
        """The stock instance's positions (empty until ``prepare_scan`` set them)."""
        info = self._info()
        positions = None if info is None else info.positions
        if positions is None or not np.size(positions):
            return np.zeros((0, len(self.motors())))
        return np.atleast_2d(np.asarray(positions, dtype=float))

    @property
    def positions(self) -> np.ndarray:
        """Not cached: they change while ``prepare_scan`` runs."""
        return self.compute_positions()

    def num_points(self) -> int:
        """``scan_info.num_points`` of the instance."""
        info = self._info()
        return 0 if info is None else int(info.num_points)

    def num_readouts(self) -> int:
        """``scan_info.num_monitored_readouts`` of the instance."""
        info = self._info()
        return 0 if info is None else int(info.num_monitored_readouts)

    def targets(self, offsets: dict[str, float]) -> dict[str, tuple[float, float]]:
        """Nothing for our limit check: the class checks its own limits (``check_limits``)."""
        return {}

    def report_instructions(self) -> list[dict[str, Any]]:
        """The instance's report instructions."""
        info = self._info()
        return [] if info is None else list(info.scan_report_instructions)

    def scan_parameters(self) -> dict[str, Any]:
        """Stock's legacy ``scan_parameters`` from the instance's scan info."""
        info = self._info()
        if info is None:
            return {"system_config": self.bound.client.get("system_config", {})}
        params: dict[str, Any] = {
            "exp_time": info.exp_time,
            "frames_per_trigger": info.frames_per_trigger,
            "settling_time": info.settling_time,
            "readout_time": info.readout_time,
            "relative": info.relative,
            **(info.additional_scan_parameters or {}),
            "system_config": info.system_config,
        }
        return {k: v for k, v in params.items() if v is not None}


def _request_inputs(stock_cls: type, args: list[Any], kwargs: dict[str, Any]) -> tuple[dict, dict]:
    """Stock's split of a non-bundle scan's arguments: those without a default (and ``*args``) are
    ``inputs``, those with one ``kwargs``."""
    signature = inspect.signature(stock_cls)
    bound = signature.bind_partial(*args, **{k: v for k, v in kwargs.items() if k in signature.parameters})
    inputs: dict[str, Any] = {}
    named: dict[str, Any] = {k: v for k, v in kwargs.items() if k not in signature.parameters}
    for name, parameter in signature.parameters.items():
        if name not in bound.arguments:
            continue
        value = bound.arguments[name]
        if parameter.kind == inspect.Parameter.VAR_POSITIONAL:
            inputs[name] = list(value)
        elif parameter.kind == inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        elif parameter.default is inspect.Parameter.empty:
            inputs[name] = value
        else:
            named[name] = value
    return inputs, named


def hosted_class(stock_cls: type, host: StockHost) -> type[HostedScan]:
    """A :class:`HostedScan` subclass for ``stock_cls``; raises if its description cannot be built."""
    description = stock_description(stock_cls)
    namespace = {
        "__doc__": stock_cls.__doc__,
        "__module__": __name__,
        "scan_name": stock_cls.scan_name,
        "class_name": stock_cls.__name__,
        "is_scan": bool(getattr(stock_cls, "is_scan", True)),
        "is_internal": bool(getattr(stock_cls, "is_internal", False)),
        "scan_type": getattr(getattr(stock_cls, "scan_type", None), "value", None),
        "stock_class": stock_cls,
        "host": host,
        "description": description,
    }
    return type(f"Hosted{stock_cls.__name__}", (HostedScan,), namespace)
