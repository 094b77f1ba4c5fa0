"""Declarations of scan arguments: one declaration drives validation and ``available_scans``.

A scan class lists :class:`Arg` objects (its bundle, positional and keyword
arguments). From them :func:`signature` builds the serialized signature a stock
BEC client turns into ``scans.<name>(...)`` and :mod:`bec_scan_server.validation`
checks a request against the very same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: marks an argument without a default (a required one)
REQUIRED: Any = "_empty"

ArgType = Literal["DeviceBase", "float", "int", "bool", "str", "list", "dict", "list[float]", "list[str]"]
Kind = Literal["POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY", "VAR_POSITIONAL", "VAR_KEYWORD"]


@dataclass(frozen=True, slots=True)
class Arg:
    """One scan argument: name, type, default and what a GUI may show about it."""

    name: str
    type: ArgType
    default: Any = REQUIRED
    description: str | None = None
    units: str | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    nullable: bool = False

    @property
    def required(self) -> bool:
        """True when the caller must give a value."""
        return self.default is REQUIRED

    def serialized_type(self) -> Any:
        """The annotation as bec_lib's ``signature_serializer.serialize_dtype`` writes it."""
        base: Any
        if self.type.startswith("list["):
            base = {"Generic": {"origin": "list", "args": [self.type[5:-1]]}}
        else:
            base = self.type
        if self.nullable:
            base = [base, "NoneType"]
        meta = {
            key: value
            for key, value in (
                ("description", self.description),
                ("units", self.units),
                ("ge", self.ge),
                ("gt", self.gt),
                ("le", self.le),
                ("lt", self.lt),
            )
            if value is not None
        }
        if not meta:
            return base
        return {"Annotated": {"type": base, "metadata": {"ScanArgument": meta}}}


def param(name: str, kind: Kind, default: Any = REQUIRED, annotation: Any = "_empty") -> dict[str, Any]:
    """One entry of a serialized signature."""
    return {"name": name, "kind": kind, "default": default, "annotation": annotation}


#: keyword arguments every scan understands (BEC 4.x names and defaults; ``relative`` is required)
COMMON_KWARGS: tuple[Arg, ...] = (
    Arg("relative", "bool", description="positions relative to the current ones"),
    Arg("exp_time", "float", 0.0, description="exposure time per frame", units="s", ge=0),
    Arg("frames_per_trigger", "int", 1, description="frames per trigger", ge=1),
    Arg("settling_time", "float", 0.0, description="wait after the move", units="s", ge=0),
    Arg("settling_time_after_trigger", "float", 0.0, units="s", ge=0),
    Arg("readout_time", "float", 0.0, description="detector readout time", units="s", ge=0),
    Arg("burst_at_each_point", "int", 1, description="readouts at each position", ge=1),
)

#: keyword arguments a stock client adds to every request; accepted, not passed to the scan
CLIENT_KWARGS = frozenset(
    {"system_config", "user_metadata", "scan_queue", "monitored", "on_request", "metadata"}
)
