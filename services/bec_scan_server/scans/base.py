"""The scan base class: declared arguments plus a small async procedure.

A scan is a subclass of :class:`ScanBase` that declares its arguments
(:class:`~bec_scan_server.scans.args.Arg`), computes its positions and, if the
default step scan does not fit, overrides :meth:`ScanBase.run`, an ``async``
procedure over the :class:`ScanAPI` (point, read, set, sleep). The scan server's
runner does the rest: numbers, open/close status, baseline, staging, data.

Adding a scan = adding a module under ``bec_scan_server/scans/`` and listing
its class in :data:`bec_scan_server.scans.SCAN_CLASSES`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from bec_scan_server.scans.args import COMMON_KWARGS, Arg, param


@dataclass(slots=True)
class BoundArgs:
    """A request's arguments after validation, with defaults applied.

    ``bundles`` holds ``(device, [values...])`` per arg bundle; ``values`` the
    positional and keyword arguments by name; ``client`` what the stock client
    adds on its own (``system_config``, ``monitored``, ...).
    """

    bundles: list[tuple[str, list[Any]]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)


class ScanAPI(Protocol):
    """What a scan procedure may do; implemented by the runner's scan context."""

    rid: str
    #: start positions of the scan's motors (read before the scan runs)
    positions: dict[str, float]

    @property
    def offsets(self) -> dict[str, float]:
        """Start positions of the motors for a relative scan (empty otherwise)."""
        ...

    async def point(
        self, set: dict[str, float] | None = None, from_readback: list[str] | None = None
    ) -> dict[str, Any]:
        """One readout: move (concurrently), settle, trigger, wait, read; publish it as a point.

        Devices in ``from_readback`` are not read but taken from their newest readback.
        The returned readings are the ones being published: read them, do not change them.
        """
        ...

    async def point_ahead(self, set: dict[str, float] | None = None, *, batch: bool = False) -> None:
        """:meth:`point` without waiting for its readings: the next one may be sent while it runs.

        The device server still runs the points one after another (each after the one
        before it has taken its readings; none after one that failed); they are
        published in order. Call :meth:`points_done` after the last one. ``batch=True``
        when nothing happens between the points: short points may then wait for the next
        ones and go to the device server together, in one instruction.
        """
        ...

    async def points_done(self) -> None:
        """Wait until every point sent with :meth:`point_ahead` is read and published."""
        ...

    async def read(self, devices: list[str]) -> dict[str, Any]:
        """Read devices now; ``{device: signals}``."""
        ...

    async def set(self, values: dict[str, float], wait: bool = True, response: bool = False) -> Any:
        """Move devices; with ``wait=False`` return a task that finishes when they arrived."""
        ...

    async def rpc(self, device: str, func: str, rpc_id: str, args: list, kwargs: dict) -> Any:
        """Call a device method on the device server."""
        ...

    async def device_value(self, device: str, attribute: str) -> Any:
        """One value of a device on the device server (``"velocity.get"``, ``"precision"``)."""
        ...

    def readback(self, device: str) -> dict[str, Any] | None:
        """The newest readback signals of a followed device (``follow_readback`` scans)."""
        ...

    async def wait_readback(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for a readback update of a followed device; True if one came."""
        ...

    async def report(self, instructions: list[dict[str, Any]]) -> None:
        """Set the request's report instructions (published in the queue status)."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` (loop time), interruptible by pause/abort."""
        ...

    def loop_time(self) -> float:
        """The event loop's clock."""
        ...


class ScanBase:
    """Base of every scan and queue request type (mv, umv, device_rpc included).

    The class docstring is the scan's description; ``available_scans`` publishes
    it followed by ``Args:`` lines generated from the declarations, ``Returns:``
    and :attr:`examples` (the format stock BEC 4.3 publishes).
    """

    #: the name clients call it by (``scans.<scan_name>``)
    scan_name: ClassVar[str] = ""
    #: the class name published in ``available_scans`` (stock's, where it differs from ours)
    class_name: ClassVar[str] = ""
    is_scan: ClassVar[bool] = True
    is_internal: ClassVar[bool] = False
    scan_type: ClassVar[Literal["software_triggered", "hardware_triggered"] | None] = "software_triggered"
    #: one bundle of arguments repeated per device, e.g. (device, start, stop)
    bundle: ClassVar[tuple[Arg, ...]] = ()
    bundle_min: ClassVar[int | None] = None
    bundle_max: ClassVar[int | None] = None
    #: positional-or-keyword arguments
    positional: ClassVar[tuple[Arg, ...]] = ()
    #: keyword-only arguments, in signature order
    keywords: ClassVar[tuple[Arg, ...]] = ()
    #: GUI grouping of the arguments (``gui_visibility``)
    gui_visibility: ClassVar[dict[str, list[str]]] = {}
    #: client-side position preview function and how its parameters map to the scan's
    position_preview: ClassVar[str | None] = None
    position_preview_parameter_mapping: ClassVar[dict[str, Any]] = {}
    #: example calls shown at the end of the docstring
    examples: ClassVar[tuple[str, ...]] = ()
    #: the runner follows the motors' readbacks during the scan (fly scans)
    follow_readback: ClassVar[bool] = False
    #: the runner reads the motors' positions before the scan even if it is not relative
    needs_positions: ClassVar[bool] = False
    #: the runner moves the motors back to their start positions after a relative scan
    returns_to_start: ClassVar[bool] = True

    def __init__(self, bound: BoundArgs) -> None:
        self.bound = bound
        self.kw = bound.values
        self.relative: bool = bool(self.kw.get("relative", False))
        self.exp_time: float = float(self.kw.get("exp_time", 0.0))
        self.frames_per_trigger: int = int(self.kw.get("frames_per_trigger", 1))
        self.settling_time: float = float(self.kw.get("settling_time", 0.0))
        self.settling_time_after_trigger: float = float(self.kw.get("settling_time_after_trigger", 0.0))
        self.readout_time: float = float(self.kw.get("readout_time", 0.0))
        self.burst: int = int(self.kw.get("burst_at_each_point", 1))
        self._positions: np.ndarray | None = None

    # ------------------------------------------------------------------ declaration
    @classmethod
    def all_args(cls) -> tuple[Arg, ...]:
        """Every named argument of the signature (bundle excluded)."""
        return (*cls.positional, *cls.keywords)

    @classmethod
    def tolerated(cls) -> dict[str, Arg]:
        """Keyword arguments accepted beyond the signature (stock scans take ``**kwargs``)."""
        names = {a.name for a in cls.all_args()}
        return {a.name: a for a in COMMON_KWARGS if a.name not in names}

    @classmethod
    def signature(cls) -> list[dict[str, Any]]:
        """The serialized signature (bec_lib ``signature_to_dict`` format)."""
        sig: list[dict[str, Any]] = []
        if cls.bundle:
            sig.append(param("args", "VAR_POSITIONAL"))
        for arg in cls.positional:
            sig.append(param(arg.name, "POSITIONAL_OR_KEYWORD", arg.default, arg.serialized_type()))
        for arg in cls.keywords:
            sig.append(param(arg.name, "KEYWORD_ONLY", arg.default, arg.serialized_type()))
        sig.append(param("kwargs", "VAR_KEYWORD"))
        return sig

    @classmethod
    def doc(cls) -> str:
        """The published docstring: description, generated ``Args:``, ``Returns:``, examples."""
        lines = [inspect.cleandoc(cls.__doc__ or "").strip(), "", "Args:"]
        if cls.bundle:
            members = ", ".join(f"{a.name}: {a.doc_type()}" for a in cls.bundle)
            lines.append(f"    *args ({members}): repeated scan argument bundles.")
        lines += [f"    {arg.doc_line()}" for arg in cls.all_args()]
        lines += ["", "Returns:", "    ScanReport"]
        if cls.examples:
            lines += ["", "Examples:", *(f"    >>> {example}" for example in cls.examples)]
        return "\n".join(lines)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """This scan's entry in ``info/scans/available_scans`` (reference 9.1 item 5)."""
        if cls.bundle:
            arg_input = {arg.name: arg.serialized_type() for arg in cls.bundle}
            bundle_size = {"bundle": len(cls.bundle), "min": cls.bundle_min, "max": cls.bundle_max}
        else:
            arg_input, bundle_size = {}, {"bundle": 0, "min": None, "max": None}
        return {
            "class": cls.class_name or cls.__name__,
            "base_class": "ScanBaseV4",
            "is_scan": cls.is_scan,
            "is_internal": cls.is_internal,
            "arg_input": arg_input,
            "required_kwargs": [],
            "arg_bundle_size": bundle_size,
            "doc": cls.doc(),
            "signature": cls.signature(),
            "gui_visibility": cls.gui_visibility,
            "position_preview": cls.position_preview,
            "position_preview_parameter_mapping": cls.position_preview_parameter_mapping,
        }

    # ------------------------------------------------------------------ hooks
    def check(self) -> None:
        """Scan-specific consistency checks; raise ``ValueError`` with a clear text."""

    def motors(self) -> list[str]:
        """The devices this scan moves (scan report devices, monitored)."""
        names = [device for device, _values in self.bound.bundles]
        names += [self.kw[a.name] for a in self.positional if a.type == "DeviceBase"]
        return list(dict.fromkeys(names))

    def devices(self) -> list[str]:
        """Every device named in the arguments."""
        return self.motors()

    def compute_positions(self) -> np.ndarray:
        """Positions, shape ``(points, len(motors))``, without the relative offset."""
        return np.zeros((1, 0))

    @property
    def positions(self) -> np.ndarray:
        """Cached :meth:`compute_positions`."""
        if self._positions is None:
            self._positions = np.asarray(self.compute_positions(), dtype=float)
        return self._positions

    def num_points(self) -> int:
        """Number of scan positions."""
        return len(self.positions)

    def num_readouts(self) -> int:
        """Number of monitored readouts (points) the scan publishes."""
        return self.num_points() * self.burst

    def targets(self, offsets: dict[str, float]) -> dict[str, tuple[float, float]]:
        """``{motor: (lowest, highest)}`` target of the scan, for the limit check."""
        pos = self.positions
        out = {}
        for i, motor in enumerate(self.motors()):
            if pos.shape[0] == 0 or pos.shape[1] <= i:
                continue
            off = offsets.get(motor, 0.0) if self.relative else 0.0
            out[motor] = (float(pos[:, i].min() + off), float(pos[:, i].max() + off))
        return out

    def report_instructions(self) -> list[dict[str, Any]]:
        """Report instructions for the client's live table or progress bar."""
        return [{"scan_progress": {"points": self.num_readouts(), "show_table": True}}]

    def scan_parameters(self) -> dict[str, Any]:
        """``scan_parameters`` of the ScanStatusMessage."""
        return {
            "exp_time": self.exp_time,
            "frames_per_trigger": self.frames_per_trigger,
            "settling_time": self.settling_time,
            "settling_time_after_trigger": self.settling_time_after_trigger,
            "readout_time": self.readout_time,
            "relative": self.relative,
            "burst_at_each_point": self.burst,
            "system_config": self.bound.client.get("system_config", {}),
        }

    async def run(self, api: ScanAPI) -> None:
        """The scan's procedure; the default is a step scan over :attr:`positions`."""
        motors = self.motors()
        positions = self.positions
        if self.relative:
            positions = positions + np.array([api.offsets.get(m, 0.0) for m in motors])
        previous: list[float] | None = None
        for target in positions.tolist():  # plain floats: no numpy scalars per point
            if previous is None:
                moves = dict(zip(motors, target, strict=True))
            else:
                moves = {m: v for m, v, p in zip(motors, target, previous, strict=True) if v != p}
            previous = target
            for burst in range(self.burst):
                await api.point_ahead(set=moves if burst == 0 else None, batch=True)
        await api.points_done()
