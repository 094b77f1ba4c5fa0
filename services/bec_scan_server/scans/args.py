"""Declarations of scan arguments: one declaration drives validation and ``available_scans``.

A scan class lists :class:`Arg` objects (its bundle, positional and keyword
arguments). From them :meth:`Arg.serialized_type` builds the annotation a stock
BEC client (and bec_widgets) reads from ``available_scans`` — the same
``Annotated[..., ScanArgument(...)]`` shape stock BEC 4.3 publishes — and
:mod:`bec_scan_server.validation` checks a request against the very same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: marks an argument without a default (a required one)
REQUIRED: Any = "_empty"

ArgType = Literal[
    "DeviceBase",
    "float",
    "int",
    "bool",
    "str",
    "list",
    "dict",
    "list[float]",
    "list[str]",
    "literal",
    "regions_line",
    "regions_grid",
]
Kind = Literal["POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY", "VAR_POSITIONAL", "VAR_KEYWORD"]

_REGION = {"Generic": {"origin": "tuple", "args": ["float", "float", "int"]}}
_BASE_TYPES: dict[str, Any] = {
    "list[float]": {"Generic": {"origin": "list", "args": ["float"]}},
    "list[str]": {"Generic": {"origin": "list", "args": ["str"]}},
    "regions_line": {"Generic": {"origin": "list", "args": [_REGION]}},
    "regions_grid": {
        "Generic": {"origin": "list", "args": [{"Generic": {"origin": "tuple", "args": [_REGION, _REGION]}}]}
    },
}
_DOC_TYPES = {
    "regions_line": "list[tuple[float, float, int]]",
    "regions_grid": "list[tuple[tuple[float, float, int], tuple[float, float, int]]]",
}
#: the fields of bec_lib's ScanArgument, in its order (all are published, as stock does)
_META_FIELDS = (
    "display_name",
    "description",
    "tooltip",
    "expert",
    "hidden",
    "example",
    "units",
    "reference_units",
    "gt",
    "ge",
    "lt",
    "le",
    "reference_limits",
    "precision",
    "alternative_group",
)


@dataclass(frozen=True, slots=True)
class Arg:
    """One scan argument: name, type, default and what a GUI may show about it.

    ``plain`` publishes the bare type without ScanArgument metadata (stock does so
    for some bundle members). ``fallback`` is what the server uses when a request
    leaves a required argument out (older clients); the published signature still
    shows it as required.
    """

    name: str
    type: ArgType
    default: Any = REQUIRED
    display_name: str | None = None
    description: str | None = None
    units: str | None = None
    reference_units: str | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    nullable: bool = False
    choices: tuple[Any, ...] = ()
    plain: bool = False
    fallback: Any = REQUIRED

    @property
    def required(self) -> bool:
        """True when the caller must give a value."""
        return self.default is REQUIRED and self.fallback is REQUIRED

    @property
    def effective_default(self) -> Any:
        """The value used when the request leaves the argument out."""
        return self.fallback if self.default is REQUIRED else self.default

    def _base(self) -> Any:
        if self.type == "literal":
            return {"Literal": list(self.choices)}
        base = _BASE_TYPES.get(self.type, self.type)
        return [base, "NoneType"] if self.nullable else base

    def serialized_type(self) -> Any:
        """The annotation as bec_lib's ``signature_serializer.serialize_dtype`` writes it."""
        if self.plain:
            return self._base()
        meta: dict[str, Any] = dict.fromkeys(_META_FIELDS)
        meta.update(expert=False, hidden=False)
        meta.update(
            display_name=self.display_name,
            description=self.description,
            units=self.units,
            reference_units=self.reference_units,
        )
        for bound in ("gt", "ge", "lt", "le"):
            value = getattr(self, bound)
            meta[bound] = None if value is None else float(value)
        return {"Annotated": {"type": self._base(), "metadata": {"ScanArgument": meta}}}

    def doc_type(self) -> str:
        """The type as the generated docstring names it."""
        if self.type == "literal":
            return "Literal[" + ", ".join("Any" if c is None else str(c) for c in self.choices) + "]"
        text = _DOC_TYPES.get(self.type, self.type)
        return f"UnionType[{text}, NoneType]" if self.nullable else text

    def doc_line(self) -> str:
        """This argument's line in the ``Args:`` section of the scan's docstring."""
        kind = self.doc_type() + (f" [{self.units}]" if self.units else "")
        text = self.description or self.name.replace("_", " ")
        line = f"{self.name} ({kind}): {text}" + ("" if text.endswith(".") else ".")
        if self.default is not REQUIRED:
            line += f" Default: {self.default!r}"
        if self.units:
            line += f" {self.units}"
        return line


def param(name: str, kind: Kind, default: Any = REQUIRED, annotation: Any = "_empty") -> dict[str, Any]:
    """One entry of a serialized signature."""
    return {"name": name, "kind": kind, "default": default, "annotation": annotation}


# ---------------------------------------------------------------------------- shared declarations
RELATIVE = Arg(
    "relative",
    "bool",
    display_name="Relative",
    description="Whether the positions are relative to the current position",
)
EXP_TIME = Arg(
    "exp_time",
    "float",
    0,
    display_name="Exposure Time",
    description="Exposure time in seconds",
    units="s",
    ge=0,
)
FRAMES_PER_TRIGGER = Arg(
    "frames_per_trigger",
    "int",
    1,
    display_name="Frames per Trigger",
    description="Number of frames per trigger for devices that support configurable frame counts "
    "per trigger.",
    ge=1,
)
SETTLING_TIME = Arg(
    "settling_time",
    "float",
    0,
    display_name="Settling Time",
    description="Time to settle before trigger and readout.",
    units="s",
    ge=0,
)
SETTLING_TIME_AFTER_TRIGGER = Arg(
    "settling_time_after_trigger",
    "float",
    0,
    display_name="Settling Time After Trigger",
    description="Time to settle after the trigger but before the readout.",
    units="s",
    ge=0,
)
READOUT_TIME = Arg(
    "readout_time",
    "float",
    0,
    display_name="Readout Time",
    description="Configuration for devices that support configurable readout times.",
    units="s",
    ge=0,
)
BURST_AT_EACH_POINT = Arg(
    "burst_at_each_point",
    "int",
    1,
    display_name="Burst at Each Point",
    description="Number of triggers and readouts at each point.",
    ge=1,
)
SNAKED = Arg(
    "snaked",
    "bool",
    True,
    display_name="Snaked",
    description="Whether to snake the scan, i.e. reverse the direction of every other line",
)
#: exposure, frames, both settling times and the readout time, in the order stock lists them
ACQUISITION: tuple[Arg, ...] = (
    EXP_TIME,
    FRAMES_PER_TRIGGER,
    SETTLING_TIME,
    SETTLING_TIME_AFTER_TRIGGER,
    READOUT_TIME,
)
#: keyword arguments every scan understands even where its signature does not list them
#: (stock scans take ``**kwargs``); checked against these declarations when given
COMMON_KWARGS: tuple[Arg, ...] = (RELATIVE, *ACQUISITION, BURST_AT_EACH_POINT)

#: keyword arguments a stock client adds to every request; accepted, not passed to the scan
CLIENT_KWARGS = frozenset(
    {"system_config", "user_metadata", "scan_queue", "monitored", "on_request", "metadata", "hide_report"}
)

ACQUISITION_GROUP = [a.name for a in (*ACQUISITION, BURST_AT_EACH_POINT)]


def device(name: str) -> Arg:
    """A device argument with empty ScanArgument metadata (as stock publishes motors)."""
    return Arg(name, "DeviceBase")


def start_stop(reference: str, suffix: str = "") -> tuple[Arg, Arg]:
    """``start<suffix>``/``stop<suffix>`` positions in the units of ``reference``."""
    return (
        Arg(f"start{suffix}", "float", display_name="Start Position", reference_units=reference),
        Arg(f"stop{suffix}", "float", display_name="Stop Position", reference_units=reference),
    )
