"""Turn an ``available_scans`` entry into a real :class:`inspect.Signature`.

The scan server publishes each scan's signature serialized the way bec_lib's
``signature_serializer`` writes it: ``[{name, kind, default|"_empty",
annotation}]`` where an annotation is a type name (``"float"``,
``"DeviceBase"``), ``{"Annotated": {"type": T, "metadata": {"ScanArgument":
{...}}}}``, ``{"Generic": {"origin": "list", "args": [...]}}`` or a list of
alternatives (``["float", "NoneType"]``). Nothing named on the wire is
imported: names are looked up in a fixed table.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Annotated, Any, Union

EMPTY = "_empty"


class DeviceBase:
    """Marker type of scan arguments that take a device (``dev.samx`` or its name)."""


@dataclass(frozen=True)
class ScanArgument:
    """What a scan declares about one argument: description, units and bounds."""

    description: str | None = None
    units: str | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.bounds().items()]
        if self.units:
            parts.insert(0, f"units={self.units!r}")
        if self.description:
            parts.insert(0, repr(self.description))
        return f"ScanArgument({', '.join(parts)})"

    def bounds(self) -> dict[str, float]:
        """The numeric bounds that are set (``ge``, ``gt``, ``le``, ``lt``)."""
        return {k: v for k in ("ge", "gt", "le", "lt") if (v := getattr(self, k)) is not None}


_NAMES: dict[str, Any] = {
    "float": float,
    "int": int,
    "bool": bool,
    "str": str,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "NoneType": type(None),
    "None": type(None),
    "DeviceBase": DeviceBase,
    "Any": Any,
}

_KINDS = {
    "POSITIONAL_ONLY": inspect.Parameter.POSITIONAL_ONLY,
    "POSITIONAL_OR_KEYWORD": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "VAR_POSITIONAL": inspect.Parameter.VAR_POSITIONAL,
    "KEYWORD_ONLY": inspect.Parameter.KEYWORD_ONLY,
    "VAR_KEYWORD": inspect.Parameter.VAR_KEYWORD,
}


def annotation_from_wire(value: Any) -> Any:
    """A Python annotation for a serialized one (unknown names stay strings)."""
    if value is None or value == EMPTY:
        return inspect.Parameter.empty
    if isinstance(value, str):
        if value.startswith("list[") and value.endswith("]"):
            return list[annotation_from_wire(value[5:-1])]  # type: ignore[misc]
        return _NAMES.get(value, value)
    if isinstance(value, list):
        options = tuple(annotation_from_wire(v) for v in value)
        return Union[options] if len(options) > 1 else options[0]  # noqa: UP007 - built at runtime
    if isinstance(value, dict):
        if "Annotated" in value:
            inner = value["Annotated"] or {}
            base = annotation_from_wire(inner.get("type"))
            meta = (inner.get("metadata") or {}).get("ScanArgument")
            if isinstance(meta, dict):
                known = {k: meta.get(k) for k in ("description", "units", "ge", "gt", "le", "lt")}
                extra = {k: v for k, v in meta.items() if k not in known}
                return Annotated[base, ScanArgument(**known, extra=extra)]
            return base
        if "Generic" in value:
            generic = value["Generic"] or {}
            origin = _NAMES.get(str(generic.get("origin")), list)
            args = tuple(annotation_from_wire(a) for a in generic.get("args") or [])
            if origin in (list, tuple, dict) and args:
                return origin[args if len(args) > 1 else args[0]]  # type: ignore[index]
            return origin
    return str(value)


def split_annotation(annotation: Any) -> tuple[Any, ScanArgument | None]:
    """``Annotated[T, ScanArgument]`` → ``(T, ScanArgument)``; anything else → ``(annotation, None)``."""
    meta = getattr(annotation, "__metadata__", None)
    if meta:
        found = next((m for m in meta if isinstance(m, ScanArgument)), None)
        return annotation.__origin__, found
    return annotation, None


def build_signature(entries: list[dict[str, Any]]) -> inspect.Signature:
    """The :class:`inspect.Signature` of a serialized signature list.

    Raises:
        ValueError: an entry has an unknown kind or the order is impossible.
    """
    params = []
    for entry in entries:
        kind = _KINDS.get(str(entry.get("kind")))
        if kind is None:
            raise ValueError(f"parameter {entry.get('name')!r}: unknown kind {entry.get('kind')!r}")
        default = entry.get("default", EMPTY)
        params.append(
            inspect.Parameter(
                str(entry["name"]),
                kind,
                default=inspect.Parameter.empty if default == EMPTY else default,
                annotation=annotation_from_wire(entry.get("annotation", EMPTY)),
            )
        )
    return inspect.Signature(params)


def type_name(annotation: Any) -> str:
    """A short readable name of an annotation for messages and help (``float``, ``list[float]``)."""
    base, _meta = split_annotation(annotation)
    if base is inspect.Parameter.empty:
        return "any"
    if isinstance(base, type) and not getattr(base, "__args__", None):
        return "device" if base is DeviceBase else base.__name__
    return str(base).replace("typing.", "").replace("NoneType", "None")


def describe_bundle(arg_input: dict[str, Any]) -> str:
    """``(device: device, start: float, stop: float)`` for a scan's argument bundle."""
    parts = [f"{name}: {type_name(annotation_from_wire(t))}" for name, t in arg_input.items()]
    return "(" + ", ".join(parts) + ")"


def build_doc(name: str, info: dict[str, Any]) -> str:
    """The docstring of ``scans.<name>``: the server's doc plus the argument bundle."""
    doc = inspect.cleandoc(str(info.get("doc") or f"The {name} scan."))
    bundle = info.get("arg_bundle_size") or {}
    if bundle.get("bundle") and info.get("arg_input"):
        limits = f"at least {bundle.get('min') or 1}"
        if bundle.get("max"):
            limits += f", at most {bundle['max']}"
        doc += (
            f"\n\nPositional arguments come in bundles of {bundle['bundle']} "
            f"{describe_bundle(info['arg_input'])}, {limits} bundle(s)."
        )
    return doc
