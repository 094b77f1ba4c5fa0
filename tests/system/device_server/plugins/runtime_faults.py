"""A device that fails at runtime in ways device code really fails, for the device server's fault tests.

Its calls run in the server's thread pool (no ``bec_inline_calls``). ``raise_in``
maps an action (``read``, ``trigger``, ``set``, ``stage``) to the name of the
exception it raises there: also ``SystemExit`` and ``KeyboardInterrupt``, which a
library may raise from a worker thread, and which must not end the server.
``callback_error``: the readback subscription callbacks get a value that makes
ophyd's callback machinery see an exception in its own thread.
"""

from __future__ import annotations

import builtins
from typing import Any

from ophyd import Component as Cpt
from ophyd import Device, Signal
from ophyd.status import DeviceStatus


class FaultyDevice(Device):
    """One hinted signal ``value``; raises ``raise_in[action]`` in that action."""

    value = Cpt(Signal, value=1.0, kind="hinted")

    def __init__(self, name: str, *, raise_in: dict[str, str] | None = None, **kwargs: Any) -> None:
        self.raise_in = dict(raise_in or {})
        super().__init__(name=name, **kwargs)
        self.value.name = name

    def _fail(self, action: str) -> None:
        name = self.raise_in.get(action)
        if name:
            exc = getattr(builtins, name)
            raise exc(f"{self.name}: {name} in {action}")

    def read(self) -> dict[str, Any]:
        """The value, or the configured exception once the server is up (the first read passes)."""
        self._fail("read")
        return super().read()

    def trigger(self) -> DeviceStatus:
        """Raise, or a finished status."""
        self._fail("trigger")
        status = DeviceStatus(self)
        status.set_finished()
        return status

    def set(self, value: Any, **kwargs: Any) -> DeviceStatus:
        """Raise, or store the value."""
        self._fail("set")
        self.value.put(value)
        status = DeviceStatus(self)
        status.set_finished()
        return status

    def stage(self) -> list[Any]:
        """Raise, or stage."""
        self._fail("stage")
        return super().stage()
