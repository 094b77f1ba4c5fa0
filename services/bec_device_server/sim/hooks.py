"""A PSIDeviceBase device that records its hook calls, for tests of when the device server runs them.

``HookRecorder`` is an ``ophyd_devices`` ``PSIDeviceBase`` (the base class of
beamline detector integrations). Each hook (``on_connected``, ``on_stage``,
``on_pre_scan``, ``on_trigger``, ``on_complete``, ``on_kickoff``, ``on_unstage``,
``on_stop``, ``on_destroy``) appends ``{"hook", "scan_id", "scan_number",
"num_points"}`` — the scan info the device saw — to the Redis list
``hook_recorder/<name>``, through ``self.device_manager.connector`` with bec_lib's
message classes, exactly as a plugin device publishes (so the list also proves
that this path works unchanged).
"""

from __future__ import annotations

from typing import Any

from ophyd import Component, Kind, Signal
from ophyd_devices import PSIDeviceBase

HOOKS = (
    "on_connected",
    "on_stage",
    "on_pre_scan",
    "on_trigger",
    "on_complete",
    "on_kickoff",
    "on_unstage",
    "on_stop",
    "on_destroy",
)


def record_key(name: str) -> str:
    """The Redis list a recorder named ``name`` appends to."""
    return f"hook_recorder/{name}"


class HookRecorder(PSIDeviceBase):
    """Records every PSIDeviceBase hook call with the scan info it saw."""

    value = Component(Signal, value=0, kind=Kind.hinted)

    def _record(self, hook: str) -> None:
        from bec_lib import messages

        msg = getattr(self.scan_info, "msg", None)
        entry: dict[str, Any] = {
            "hook": hook,
            "scan_id": getattr(msg, "scan_id", None),
            "scan_number": getattr(msg, "scan_number", None),
            "num_points": getattr(msg, "num_points", None),
        }
        connector = getattr(self.device_manager, "connector", None)
        if connector is not None:
            connector.rpush(record_key(self.name), messages.VariableMessage(value=entry))

    def on_connected(self) -> None:
        """Record."""
        self._record("on_connected")

    def on_stage(self) -> None:
        """Record."""
        self._record("on_stage")

    def on_pre_scan(self) -> None:
        """Record."""
        self._record("on_pre_scan")

    def on_trigger(self) -> None:
        """Record; the value counts the triggers."""
        self.value.put(self.value.get() + 1)
        self._record("on_trigger")

    def on_complete(self) -> None:
        """Record."""
        self._record("on_complete")

    def on_kickoff(self) -> None:
        """Record."""
        self._record("on_kickoff")

    def on_unstage(self) -> None:
        """Record."""
        self._record("on_unstage")

    def on_stop(self) -> None:
        """Record."""
        self._record("on_stop")

    def on_destroy(self) -> None:
        """Record."""
        self._record("on_destroy")


__all__ = ["HOOKS", "HookRecorder", "record_key"]
