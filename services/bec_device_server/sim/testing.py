"""A device that fails on purpose, for tests of the device server's error handling.

``deviceConfig`` keys:

* ``fail_on``: actions that raise, any of ``init``, ``connect`` (``wait_for_connection``,
  like an unreachable IOC), ``read``, ``set``, ``stage``, ``trigger``, ``stop``, ``describe``;
* ``fail_reads``: how many reads fail before reads succeed (for ``onFailure: retry``);
* ``hang_on``: actions whose status never finishes (``set``, ``trigger``); ``connect``:
  ``wait_for_connection`` blocks until ``SimFailing.connect_release`` is set (or times out).
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from ophyd import Component as Cpt
from ophyd import Device, Signal
from ophyd.status import DeviceStatus

from bec_device_server.errors import SimulatedFailure
from bec_device_server.sim.lean import LeanRead


class SimFailing(LeanRead, Device):
    """A device with one hinted signal ``value`` that fails or hangs where configured."""

    USER_ACCESS = ["value"]
    bec_cheap_read = True
    bec_inline_calls = True

    value = Cpt(Signal, value=0.0, kind="hinted")
    #: releases every ``hang_on: [connect]`` device waiting in ``wait_for_connection``
    connect_release: ClassVar[threading.Event] = threading.Event()

    def __init__(
        self,
        name: str,
        *,
        fail_on: list[str] | None = None,
        fail_reads: int = 0,
        hang_on: list[str] | None = None,
        parent: Any = None,
        kind: Any = None,
        **kwargs: Any,
    ) -> None:
        self.fail_on = set(fail_on or ())
        self.hang_on = set(hang_on or ())
        self.fail_reads = int(fail_reads)
        self.read_attempts = 0
        if "init" in self.fail_on:
            raise SimulatedFailure(f"{name}: simulated failure in __init__")
        super().__init__(name=name, parent=parent, kind=kind, **kwargs)
        self.value.name = self.name

    def wait_for_connection(self, all_signals: bool = False, timeout: float | None = None) -> None:
        """Connected at once (or a TimeoutError with ``fail_on: [connect]``)."""
        if "connect" in self.hang_on:  # a slow IOC: connects once a test releases it (or times out)
            if not SimFailing.connect_release.wait(timeout):
                raise TimeoutError(f"{self.name}: simulated slow device (no connection in {timeout} s)")
        if "connect" in self.fail_on:
            raise TimeoutError(f"{self.name}: simulated unreachable device (no connection in {timeout} s)")
        super().wait_for_connection(all_signals=all_signals, timeout=timeout)

    def _maybe_fail(self, action: str) -> None:
        if action in self.fail_on:
            raise SimulatedFailure(f"{self.name}: simulated failure in {action}")

    def read(self) -> dict[str, Any]:
        """The value, unless configured to fail."""
        self.read_attempts += 1
        if self.read_attempts <= self.fail_reads:
            raise SimulatedFailure(f"{self.name}: simulated read failure #{self.read_attempts}")
        self._maybe_fail("read")
        return super().read()

    def describe(self) -> dict[str, Any]:
        """The description, unless configured to fail."""
        self._maybe_fail("describe")
        return super().describe()

    def set(self, value: Any, **kwargs: Any) -> DeviceStatus:
        """Store the value; the status finishes at once (or never, with ``hang_on: [set]``)."""
        self._maybe_fail("set")
        status = DeviceStatus(self)
        if "set" not in self.hang_on:
            self.value.put(float(value), timestamp=time.time())
            status.set_finished()
        return status

    def trigger(self) -> DeviceStatus:
        """Finishes at once (or never, with ``hang_on: [trigger]``)."""
        self._maybe_fail("trigger")
        status = DeviceStatus(self)
        if "trigger" not in self.hang_on:
            status.set_finished()
        return status

    def stage(self) -> list[Any]:
        """Stage, unless configured to fail."""
        self._maybe_fail("stage")
        return super().stage()

    def stop(self, *, success: bool = False) -> None:
        """Stop, unless configured to fail."""
        self._maybe_fail("stop")
        super().stop(success=success)
