"""Check a request's ``parameter`` against a scan's declared arguments.

Every error is a :class:`RequestError` whose text a scientist understands
("line_scan: argument 'steps' must be an int, got 'ten' (str)").
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from bec_core.config import ScanLimits
from bec_core.errors import ScanError
from bec_scan_server.scans.args import CLIENT_KWARGS, Arg
from bec_scan_server.scans.base import BoundArgs, ScanBase


class RequestError(ScanError):
    """A request that cannot be accepted; the text says why."""


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def coerce(scan: str, arg: Arg, value: Any) -> Any:
    """Check one value against its declaration; return it in the declared type."""
    where = f"{scan}: argument {arg.name!r}"
    if value is None and (arg.nullable or arg.default is None):
        return None
    kind = arg.type
    if kind == "literal":
        if value not in arg.choices:
            raise RequestError(f"{where} must be one of {list(arg.choices)}, got {_describe(value)}")
        return value
    if kind in ("regions_line", "regions_grid"):
        return _regions(where, kind, value)
    if kind == "DeviceBase":
        if not isinstance(value, str) or not value:
            raise RequestError(f"{where} must be a device, got {_describe(value)}")
        return value
    if kind == "float":
        if not _is_number(value) or not math.isfinite(float(value)):
            raise RequestError(f"{where} must be a finite number, got {_describe(value)}")
        value = float(value)
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if _is_number(value) and float(value).is_integer():
                value = int(value)
            else:
                raise RequestError(f"{where} must be an int, got {_describe(value)}")
        value = int(value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise RequestError(f"{where} must be True or False, got {_describe(value)}")
    elif kind == "str":
        if not isinstance(value, str):
            raise RequestError(f"{where} must be a string, got {_describe(value)}")
    elif kind == "dict":
        if not isinstance(value, Mapping):
            raise RequestError(f"{where} must be a dict, got {_describe(value)}")
        value = dict(value)
    elif kind.startswith("list"):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise RequestError(f"{where} must be a list, got {_describe(value)}")
        value = list(value)
        if kind == "list[float]":
            bad = [v for v in value if not _is_number(v) or not math.isfinite(float(v))]
            if bad:
                raise RequestError(f"{where} must be a list of numbers; {_describe(bad[0])} is not")
            value = [float(v) for v in value]
        elif kind == "list[str]" and not all(isinstance(v, str) for v in value):
            raise RequestError(f"{where} must be a list of strings")
    _check_bounds(where, arg, value)
    return value


def _region(where: str, value: Any) -> tuple[float, float, int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
        raise RequestError(f"{where}: a region is (start, stop, steps), got {_describe(value)}")
    start, stop, steps = value
    if not all(_is_number(v) and math.isfinite(float(v)) for v in (start, stop)):
        raise RequestError(f"{where}: region start and stop must be finite numbers, got {_describe(value)}")
    if not _is_number(steps) or not float(steps).is_integer() or int(steps) < 1:
        raise RequestError(f"{where}: region steps must be a positive int, got {_describe(steps)}")
    return (float(start), float(stop), int(steps))


def _regions(where: str, kind: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise RequestError(f"{where} must be a non-empty list of regions, got {_describe(value)}")
    if kind == "regions_line":
        return [_region(where, v) for v in value]
    out = []
    for pair in value:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise RequestError(
                f"{where}: a grid region is a pair of (start, stop, steps), got {_describe(pair)}"
            )
        out.append((_region(where, pair[0]), _region(where, pair[1])))
    return out


def _check_bounds(where: str, arg: Arg, value: Any) -> None:
    if not _is_number(value):
        return
    if arg.ge is not None and value < arg.ge:
        raise RequestError(f"{where} must be >= {arg.ge:g}, got {value}")
    if arg.gt is not None and value <= arg.gt:
        raise RequestError(f"{where} must be > {arg.gt:g}, got {value}")
    if arg.le is not None and value > arg.le:
        raise RequestError(f"{where} must be <= {arg.le:g}, got {value}")
    if arg.lt is not None and value >= arg.lt:
        raise RequestError(f"{where} must be < {arg.lt:g}, got {value}")


def _bundles(cls: type[ScanBase], args: Any) -> list[tuple[str, list[Any]]]:
    name, size = cls.scan_name, len(cls.bundle)
    if isinstance(args, Mapping):
        raw = [(key, value) for key, value in args.items()]
    elif isinstance(args, Sequence) and not isinstance(args, (str, bytes)):
        flat = list(args)
        if len(flat) % size:
            raise RequestError(
                f"{name}: arguments come in groups of {size} "
                f"({', '.join(a.name for a in cls.bundle)}); got {len(flat)} values"
            )
        raw = [(flat[i], flat[i + 1 : i + size]) for i in range(0, len(flat), size)]
    else:
        raise RequestError(f"{name}: 'args' must be a list or a dict, got {_describe(args)}")
    out: list[tuple[str, list[Any]]] = []
    for key, values in raw:
        device = coerce(name, cls.bundle[0], key)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values]
        values = list(values)
        if len(values) != size - 1:
            expected = ", ".join(a.name for a in cls.bundle[1:])
            raise RequestError(
                f"{name}: {device} needs {size - 1} value(s) ({expected}), got {len(values)}: {values!r}"
            )
        out.append((device, [coerce(name, a, v) for a, v in zip(cls.bundle[1:], values, strict=True)]))
    count = len(out)
    if cls.bundle_min is not None and count < cls.bundle_min:
        raise RequestError(f"{name}: needs at least {cls.bundle_min} device bundle(s), got {count}")
    if cls.bundle_max is not None and count > cls.bundle_max:
        raise RequestError(f"{name}: takes at most {cls.bundle_max} device bundle(s), got {count}")
    devices = [d for d, _ in out]
    if len(set(devices)) != len(devices):
        raise RequestError(f"{name}: a device appears more than once: {devices}")
    return out


def bind(cls: type[ScanBase], parameter: Any) -> BoundArgs:
    """Bind ``{"args": ..., "kwargs": ...}`` to ``cls``'s declaration; raise :class:`RequestError`."""
    name = cls.scan_name
    if not isinstance(parameter, Mapping):
        raise RequestError(f"{name}: 'parameter' must be a dict with 'args' and 'kwargs'")
    args = parameter.get("args") or []
    kwargs = parameter.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise RequestError(f"{name}: 'kwargs' must be a dict, got {_describe(kwargs)}")
    bound = BoundArgs()
    if cls.bundle:
        bound.bundles = _bundles(cls, args)
        positional_values: list[Any] = []
    else:
        if isinstance(args, Mapping) or isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
            raise RequestError(f"{name}: 'args' must be a list, got {_describe(args)}")
        positional_values = list(args)
        if len(positional_values) > len(cls.positional):
            raise RequestError(
                f"{name}: takes {len(cls.positional)} positional argument(s) but "
                f"{len(positional_values)} were given"
            )
    declared = {**cls.tolerated(), **{a.name: a for a in cls.all_args()}}
    for arg, value in zip(cls.positional, positional_values, strict=False):
        if arg.name in kwargs:
            raise RequestError(f"{name}: got multiple values for argument {arg.name!r}")
        bound.values[arg.name] = coerce(name, arg, value)
    for key, value in kwargs.items():
        if key in CLIENT_KWARGS:
            bound.client[key] = value
            continue
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise RequestError(f"{name}: unexpected keyword argument {key!r} (known: {known})")
        bound.values[key] = coerce(name, declared[key], value)
    missing = [a.name for a in cls.all_args() if a.name not in bound.values and a.required]
    if missing:
        raise RequestError(f"{name}: missing required argument(s): {', '.join(repr(m) for m in missing)}")
    for arg in cls.all_args():
        bound.values.setdefault(arg.name, copy.copy(arg.effective_default))
    return bound


#: argument -> (ScanLimits field, what it is)
_TIME_LIMITS = {
    "exp_time": ("max_exp_time_s", "s"),
    "settling_time": ("max_settling_time_s", "s"),
    "settling_time_after_trigger": ("max_settling_time_s", "s"),
    "readout_time": ("max_settling_time_s", "s"),
    "interval": ("max_interval_s", "s"),
    "frames_per_trigger": ("max_frames_per_trigger", ""),
    "burst_at_each_point": ("max_burst_at_each_point", ""),
}


def check_limits(cls: type[ScanBase], bound: BoundArgs, limits: ScanLimits) -> None:
    """Refuse values above the configured bounds, and scans with too many points, before the scan
    object computes a single position."""
    name = cls.scan_name
    for key, (field_name, unit) in _TIME_LIMITS.items():
        value = bound.values.get(key)
        limit = getattr(limits, field_name)
        if _is_number(value) and value > limit:
            raise RequestError(
                f"{name}: {key}={value:g}{' ' + unit if unit else ''} is above the limit of "
                f"{limit:g}{' ' + unit if unit else ''} (scan_server.limits.{field_name})"
            )
    points = estimated_points(name, bound)
    burst = bound.values.get("burst_at_each_point") or 1
    readouts = points * (burst if isinstance(burst, int) else 1)
    if readouts > limits.max_points:
        raise RequestError(
            f"{name}: {readouts:.4g} readouts requested, more than the limit of {limits.max_points} "
            f"per scan (scan_server.limits.max_points)"
        )


def estimated_points(name: str, bound: BoundArgs) -> float:
    """The number of points a request asks for, from its arguments alone (no positions built)."""
    kw, bundles = bound.values, bound.bundles
    if name in ("line_scan", "cont_line_scan"):
        return float(kw.get("steps") or 1)
    if name == "time_scan":
        return float(kw.get("points") or 1)
    if name == "grid_scan":
        return float(math.prod(int(values[2]) for _device, values in bundles)) if bundles else 1.0
    if name == "list_scan":
        return float(max((len(values[0]) for _device, values in bundles), default=1))
    if name == "round_scan":
        rings, first = int(kw.get("number_of_rings") or 1), int(kw.get("pos_in_first_ring") or 1)
        return 1.0 + first * rings * (rings + 1) / 2
    if name == "fermat_scan":
        span1 = abs(float(kw.get("stop_motor1", 0)) - float(kw.get("start_motor1", 0)))
        span2 = abs(float(kw.get("stop_motor2", 0)) - float(kw.get("start_motor2", 0)))
        step = float(kw.get("step") or 0.1)
        return (span1 + span2) ** 2 / step**2 + 1
    return 1.0


def build(cls: type[ScanBase], parameter: Any, limits: ScanLimits | None = None) -> ScanBase:
    """Bind, check the limits, instantiate and run the scan's own checks (positions included)."""
    from_request = getattr(cls, "from_request", None)
    if from_request is not None:  # a hosted stock scan class checks against its own constructor
        return from_request(parameter, limits)  # type: ignore[no-any-return]
    bound = bind(cls, parameter)
    if limits is not None:
        check_limits(cls, bound, limits)
    scan = cls(bound)
    try:
        scan.check()
        scan.num_points()
    except (ValueError, TypeError) as exc:
        text = str(exc)
        raise RequestError(text if text.startswith(cls.scan_name) else f"{cls.scan_name}: {text}") from None
    return scan
