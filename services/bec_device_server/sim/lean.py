"""A lean ``read()`` and ``repr()`` for the simulated devices: ophyd's results, computed less often.

ophyd's ``Device.read()`` walks every component and tests its ``Kind`` flags
(``enum.Flag`` arithmetic: most of the cost of reading a simulated device), and
``repr()`` of a device, which every ``MoveStatus`` takes for its trace
attributes, lists ``read_attrs`` and ``configuration_attrs`` the same way. Both
depend only on the components' kinds (and on the names), so :class:`LeanRead`
derives them again only when one of those changes; a component whose ``read``
is ophyd's own ``Signal.read`` is read by the same three lines inlined. The
results are exactly ophyd's: the same ``OrderedDict`` of the same readings, the
same repr string.

``subscribe`` is ophyd's own ``OphydObject.subscribe``. Importing
``ophyd_devices`` replaces it for every ophyd object by a version that takes a
``traceback.extract_stack`` at each registration (to enrich the log line of a
failing callback): it stats a dozen source files, about 55 µs, and ophyd's
``PositionerBase.move`` subscribes twice per move. Our simulated devices keep
ophyd's behaviour (callbacks still wrapped, their errors still logged), without
that cost per point; ``ophyd_devices``' own classes keep its version.
"""

from __future__ import annotations

from collections import OrderedDict
from operator import attrgetter
from typing import Any

from ophyd import Kind, Signal
from ophyd.ophydobj import OphydObject
from ophyd.utils import DisconnectedError

_SIGNAL_READ = Signal.read
_KIND = attrgetter("_kind")
#: ophyd's subscribe, also when ophyd_devices has replaced it (it keeps the original here)
_OPHYD_SUBSCRIBE = getattr(OphydObject.subscribe, "_ophyd_devices_original_subscribe", OphydObject.subscribe)


class LeanRead:
    """Mixin placed before ``ophyd.Device`` in the bases of a simulated device (no sub-devices)."""

    _lean_key: tuple[Any, ...] = ()
    _lean_normal: tuple[tuple[Any, bool], ...] = ()
    _lean_repr: tuple[tuple[Any, ...], str] | None = None

    def _lean_kinds(self) -> tuple[Any, ...]:
        """The kind of every instantiated component (a lazy one appearing changes the length)."""
        return tuple(map(_KIND, self._signals.values()))  # type: ignore[attr-defined]

    def read(self) -> dict[str, Any]:
        """``Device.read()``: the ``read()`` of every normal (or hinted) component, in order."""
        key = self._lean_kinds()
        if key != self._lean_key:  # first read, or a component's kind was changed
            normal = self._get_components_of_kind(Kind.normal)  # type: ignore[attr-defined]
            self._lean_normal = tuple((cpt, type(cpt).read is _SIGNAL_READ) for _name, cpt in normal)
            self._lean_key = key
        res: OrderedDict[str, dict[str, Any]] = OrderedDict()
        for cpt, plain in self._lean_normal:
            if plain:  # ophyd's Signal.read(), inlined
                if not cpt.connected:
                    raise DisconnectedError(f"{cpt.name} is not connected")
                res[cpt.name] = {"value": cpt.get(), "timestamp": cpt.timestamp}
            else:
                res.update(cpt.read())
        return res

    def subscribe(self, callback: Any, event_type: str | None = None, run: bool = True) -> int:
        """ophyd's ``OphydObject.subscribe`` (see the module docstring)."""
        return int(_OPHYD_SUBSCRIBE(self, callback, event_type=event_type, run=run))

    def __repr__(self) -> str:
        parent = self._parent  # type: ignore[attr-defined]
        key = (
            self._lean_kinds(),
            self.name,  # type: ignore[attr-defined]
            self.prefix,  # type: ignore[attr-defined]
            None if parent is None else parent.name,
            getattr(self, "_settle_time", None),
            getattr(self, "_timeout", None),
        )
        cached = self._lean_repr
        if cached is None or cached[0] != key:
            cached = self._lean_repr = (key, super().__repr__())
        return cached[1]


__all__ = ["LeanRead"]
