"""Check a scan call against its published description before anything is sent.

The same rules a stock client applies (``bec_lib/scan_input_validator.py``):
the call must bind to the signature (so a missing ``relative`` is caught),
positional arguments must come in whole bundles of the declared size and
count, and each value must match its declared type and bounds. Device
arguments may be proxies (``dev.samx``) or names (``"samx"``); unknown
devices are refused with the list of known ones.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from bec_core.client.errors import ScanArgumentError
from bec_core.client.signature import DeviceBase, annotation_from_wire, split_annotation, type_name

#: keyword arguments every request may carry besides the scan's own (handled by the client or
#: the server, never passed to the scan procedure as parameters)
CLIENT_KWARGS = frozenset(
    {
        "system_config",
        "user_metadata",
        "scan_queue",
        "monitored",
        "on_request",
        "metadata",
        "md",
        "file_suffix",
        "file_directory",
        "hide_report",
    }
)

DeviceResolver = Callable[[Any], Any]


def check_value(value: Any, annotation: Any, where: str, resolve: DeviceResolver) -> Any:
    """Return ``value`` (a device name replaced by its proxy) or raise :class:`ScanArgumentError`."""
    base, meta = split_annotation(annotation)
    value = _check_type(value, base, where, resolve)
    if meta is not None and isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        for bound, limit in meta.bounds().items():
            ok = {
                "ge": number >= limit,
                "gt": number > limit,
                "le": number <= limit,
                "lt": number < limit,
            }[bound]
            if not ok:
                symbol = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[bound]
                raise ScanArgumentError(f"{where} must be {symbol} {limit}, got {value!r}")
    return value


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_type(value: Any, base: Any, where: str, resolve: DeviceResolver) -> Any:
    if base is inspect.Parameter.empty or base is Any or isinstance(base, str):
        return resolve(value) if _is_device(value) else value
    origin = typing.get_origin(base)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(base):
            try:
                return _check_type(value, option, where, resolve)
            except ScanArgumentError as exc:
                errors.append(str(exc))
        raise ScanArgumentError(f"{where} must be {type_name(base)}, got {_show(value)}")
    if base is DeviceBase:
        if not (_is_device(value) or isinstance(value, str)):
            raise ScanArgumentError(f"{where} must be a device (e.g. dev.samx), got {_show(value)}")
        return resolve(value)
    if base is type(None):
        if value is not None:
            raise ScanArgumentError(f"{where} must be None, got {_show(value)}")
        return value
    if base is float:
        if not _is_real(value):
            raise ScanArgumentError(f"{where} must be a number, got {_show(value)}")
        return value
    if base is int:
        if not (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
            raise ScanArgumentError(f"{where} must be an integer, got {_show(value)}")
        return value
    if base is bool:
        if not isinstance(value, bool) and type(value).__name__ != "bool_":
            raise ScanArgumentError(f"{where} must be True or False, got {_show(value)}")
        return bool(value)
    if base is str:
        if not isinstance(value, str):
            raise ScanArgumentError(f"{where} must be a string, got {_show(value)}")
        return value
    if base is dict or origin is dict:
        if not isinstance(value, dict):
            raise ScanArgumentError(f"{where} must be a dict, got {_show(value)}")
        return value
    if base in (list, tuple) or origin in (list, tuple):
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, (Sequence, *_array_types())):
            raise ScanArgumentError(f"{where} must be a list, got {_show(value)}")
        items = list(value)  # type: ignore[call-overload]  # a Sequence or a numpy array, checked above
        inner = typing.get_args(base)
        if inner:
            items = [_check_type(v, inner[0], f"{where}[{i}]", resolve) for i, v in enumerate(items)]
        return items
    return value


def _array_types() -> tuple[type, ...]:
    import numpy as np  # numpy arrays are valid lists of positions

    return (np.ndarray,)


def _is_device(value: Any) -> bool:
    return isinstance(getattr(value, "_bec_device_name", None), str)


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def bundle_args(args: Sequence[Any], bundle: int) -> dict[Any, list[Any]] | list[Any]:
    """BEC's ``parameter["args"]``: ``{device: [rest of bundle], ...}`` for bundle scans, else a list."""
    if not bundle:
        return list(args)
    return {args[i]: list(args[i + 1 : i + bundle]) for i in range(0, len(args), bundle)}


def validate_call(
    name: str,
    info: dict[str, Any],
    signature: inspect.Signature,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    resolve: DeviceResolver,
) -> tuple[list[Any], dict[str, Any]]:
    """Check a call of ``scans.<name>``; return ``(args, kwargs)`` with devices resolved.

    Raises:
        ScanArgumentError: with a message that names the scan and the argument.
    """
    scan_kwargs = {k: v for k, v in kwargs.items() if k not in CLIENT_KWARGS}
    known = {
        p.name
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }
    for key in scan_kwargs:
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ScanArgumentError(f"{name}() got an unexpected keyword argument {key!r}{extra}")
    try:
        bound = signature.bind(*args, **scan_kwargs)
    except TypeError as exc:
        raise ScanArgumentError(f"{name}(): {exc}") from None
    out_args: list[Any] = []
    out_kwargs: dict[str, Any] = {}
    order = list(signature.parameters)
    for pname, value in bound.arguments.items():
        param = signature.parameters[pname]
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and order.index(pname) != len(out_args):
            # an earlier positional parameter was left to its default: send this one by name, or it
            # would land in that earlier position (acquire(exp_time=0.1, burst_at_each_point=3))
            out_kwargs[pname] = check_value(value, param.annotation, f"{name}(): {pname!r}", resolve)
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            out_args.extend(_check_bundles(name, info, list(value), resolve))
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            out_kwargs.update(value)
        elif param.kind is inspect.Parameter.KEYWORD_ONLY:
            out_kwargs[pname] = check_value(value, param.annotation, f"{name}(): {pname!r}", resolve)
        else:
            out_args.append(check_value(value, param.annotation, f"{name}(): {pname!r}", resolve))
    var_positional = [
        p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.VAR_POSITIONAL
    ]
    if not var_positional:
        _check_bundle_count(name, info, 0)
    elif var_positional[0] not in bound.arguments:  # no positional arguments at all
        _check_bundles(name, info, [], resolve)
    return out_args, out_kwargs


def _check_bundle_count(name: str, info: dict[str, Any], count: int) -> None:
    size = info.get("arg_bundle_size") or {}
    if not size.get("bundle"):
        return
    low, high = size.get("min"), size.get("max")
    if low is not None and count < low:
        raise ScanArgumentError(f"{name}() needs at least {low} bundle(s) of {_bundle_text(info)}")
    if high is not None and count > high:
        raise ScanArgumentError(f"{name}() takes at most {high} bundle(s) of {_bundle_text(info)}")


def _bundle_text(info: dict[str, Any]) -> str:
    names = list((info.get("arg_input") or {}).keys())
    return "(" + ", ".join(names) + ")"


def _check_bundles(name: str, info: dict[str, Any], args: list[Any], resolve: DeviceResolver) -> list[Any]:
    arg_input: dict[str, Any] = info.get("arg_input") or {}
    size = (info.get("arg_bundle_size") or {}).get("bundle") or len(arg_input)
    if not arg_input or not size:
        return [resolve(a) if _is_device(a) else a for a in args]
    if len(args) % size:
        raise ScanArgumentError(
            f"{name}() takes positional arguments in bundles of {size} {_bundle_text(info)}; "
            f"got {len(args)} argument(s)"
        )
    _check_bundle_count(name, info, len(args) // size)
    types_ = [annotation_from_wire(t) for t in arg_input.values()]
    names = list(arg_input)
    out = []
    for i, value in enumerate(args):
        bundle, pos = divmod(i, size)
        where = f"{name}(): {names[pos]!r} of bundle {bundle + 1}"
        checked = check_value(value, types_[pos], where, resolve)
        if pos == 0 and getattr(checked, "is_positioner", True) is False:
            # a bundle starts with the device the scan moves: a detector cannot be set
            raise ScanArgumentError(
                f"{checked.name} is not a positioner: {name}() moves the first device of each bundle"
            )
        out.append(checked)
    return out
