"""A simulated one-axis motor with BEC ``SimPositioner`` semantics.

``deviceConfig`` keys (as in ``ophyd_devices.SimPositioner``):

* ``delay``: ``0`` moves instantly; any other value makes the move take time,
  paced by the ``velocity`` signal (units per second) and ``update_frequency``
  (readback updates per second);
* ``limits: [low, high]``: a target outside raises :class:`ophyd.utils.LimitError`
  (``[0, 0]``, the default, means no limits);
* ``tolerance``, ``settle_time``, ``velocity``, ``acceleration``, ``precision``,
  ``egu``, ``init_position``, ``timeout``.

The move runs in a daemon thread and the returned :class:`ophyd.status.MoveStatus`
finishes from that thread, so nothing waits on it by blocking; for ``delay: 0`` the
move completes on the call and its status is finished already.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from typing import Any

from ophyd import Component as Cpt
from ophyd import Device, PositionerBase, Signal
from ophyd.status import DeviceStatus, StatusBase
from ophyd.utils import LimitError

from bec_device_server.sim.lean import LeanRead


class SimPositioner(LeanRead, Device, PositionerBase):
    """A simulated motor: ``readback`` (named like the device), ``setpoint``, ``motor_is_moving``."""

    USER_ACCESS = ["readback", "setpoint", "velocity"]
    bec_cheap_read = True
    bec_inline_calls = True

    readback = Cpt(Signal, value=0.0, kind="hinted")
    setpoint = Cpt(Signal, value=0.0, kind="normal")
    motor_is_moving = Cpt(Signal, value=0, kind="normal")
    velocity = Cpt(Signal, value=100.0, kind="config")
    acceleration = Cpt(Signal, value=1.0, kind="config")
    tolerance = Cpt(Signal, value=0.01, kind="config")
    high_limit_travel = Cpt(Signal, value=0.0, kind="omitted")
    low_limit_travel = Cpt(Signal, value=0.0, kind="omitted")

    SUB_READBACK = "readback"
    _default_sub = SUB_READBACK

    def __init__(
        self,
        name: str,
        *,
        delay: float = 1,
        update_frequency: float = 400,
        precision: int = 3,
        limits: tuple[float, float] | list[float] | None = None,
        tolerance: float = 0.01,
        velocity: float | None = None,
        acceleration: float | None = None,
        settle_time: float = 0.0,
        timeout: float | None = None,
        egu: str = "mm",
        init_position: float = 0.0,
        sim_init: dict[str, Any] | None = None,
        parent: Any = None,
        kind: Any = None,
        device_manager: Any = None,
        **kwargs: Any,
    ) -> None:
        if update_frequency <= 0:
            raise ValueError(f"update_frequency must be > 0, not {update_frequency!r}")
        self.delay = delay
        self.update_frequency = float(update_frequency)
        self.precision = precision
        self._egu = egu
        self._stop_event = threading.Event()
        self._move_thread: threading.Thread | None = None
        self._finishing = False
        self._arrived: DeviceStatus | None = None  #: the finished status of instant moves
        super().__init__(
            name=name, parent=parent, kind=kind, settle_time=settle_time, timeout=timeout, **kwargs
        )
        self.readback.name = self.name
        self.tolerance.put(float(tolerance))
        if velocity is not None:
            self.velocity.put(float(velocity))
        if acceleration is not None:
            self.acceleration.put(float(acceleration))
        if limits is not None:
            self.set_limits(limits)
        self.setpoint.put(float(init_position))
        self.readback.put(float(init_position))
        self._position = float(init_position)

    # ------------------------------------------------------------------ properties
    @property
    def egu(self) -> str:
        """Engineering units."""
        return self._egu

    @property
    def limits(self) -> tuple[float, float]:
        """``(low, high)``; ``(0, 0)`` means unlimited."""
        return (float(self.low_limit_travel.get()), float(self.high_limit_travel.get()))

    def set_limits(self, limits: tuple[float, float] | list[float]) -> None:
        """Set the soft travel limits ``(low, high)``."""
        low, high = (float(v) for v in limits)
        if low > high:
            raise ValueError(f"{self.name}: low limit {low} is above high limit {high}")
        self.low_limit_travel.put(low)
        self.high_limit_travel.put(high)

    @property
    def position(self) -> float:
        """The current readback value."""
        return float(self.readback.get())

    @property
    def moving(self) -> bool:
        """True while a timed move runs."""
        return bool(self.motor_is_moving.get())

    def check_value(self, value: Any) -> None:
        """Raise ``LimitError`` for a target outside the limits, ``TypeError`` for a non-number."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"{self.name}: target must be a number, not {value!r}") from None
        if math.isnan(value):
            raise ValueError(f"{self.name}: target is NaN")
        low, high = self.limits
        if low < high and not low <= value <= high:
            raise LimitError(f"{self.name}: position {value} is outside the limits [{low}, {high}]")

    # ------------------------------------------------------------------ motion
    def move(
        self, position: float, wait: bool = False, moved_cb: Any = None, timeout: float | None = None
    ) -> StatusBase:
        """Start a move to ``position``; returns a MoveStatus that finishes when it arrives (for
        ``delay: 0``, a status finished already: see :meth:`_move_now`)."""
        self.check_value(position)
        target = float(position)
        self._abort_running_move()
        if not self.delay:
            return self._move_now(target, moved_cb)
        status = super().move(target, moved_cb=moved_cb, timeout=timeout)
        self.setpoint.put(target)
        self._stop_event = threading.Event()
        self.motor_is_moving.put(1)
        thread = threading.Thread(
            target=self._run_move,
            args=(self.position, target, self._stop_event),
            name=f"sim-move-{self.name}",
            daemon=True,
        )
        self._move_thread = thread
        thread.start()
        if wait:
            status.wait()
        return status

    def _move_now(self, target: float, moved_cb: Any) -> DeviceStatus:
        """An instant move, done on the call as ophyd's own ``SynAxis`` does it: setpoint, readback
        and the ``done`` subscriptions run, and the status returned is finished already (after
        ``settle_time``). A MoveStatus would subscribe a progress watcher to the readback and
        remove it again: most of the cost of an instant move (about 35 of 45 us).

        With no settle time every instant move returns the same finished, successful status (a
        callback added to it runs at once, as on any finished status): building and finishing an
        ophyd status (its tracing span, lock and event) was a third of the move's cost."""
        self.setpoint.put(target)
        self._update_readback(target)
        self._run_subs(sub_type=self.SUB_DONE, timestamp=time.time(), value=target)
        status = None if self._settle_time else self._arrived
        if status is None:
            status = DeviceStatus(self, settle_time=self._settle_time)
            status.set_finished()  # with a settle time: done once it has passed
            if not self._settle_time:
                self._arrived = status
        if moved_cb is not None:
            status.add_callback(functools.partial(moved_cb, obj=self))
        return status

    def _run_move(self, start: float, target: float, stop: threading.Event) -> None:
        velocity = abs(float(self.velocity.get())) or 1e-12
        dt = 1.0 / self.update_frequency
        steps = max(1, math.ceil(abs(target - start) / (velocity * dt)))
        for i in range(1, steps + 1):
            if stop.wait(dt):
                return
            self._update_readback(start + (target - start) * i / steps)
        if stop.is_set():
            return
        self.motor_is_moving.put(0)
        self._done_moving(success=True)

    def _done_moving(
        self, success: bool = True, timestamp: Any = None, value: Any = None, **kwargs: Any
    ) -> None:
        """Finish the running move's status once. A failed MoveStatus stops its device, whose
        ``stop()`` finishes the move again: without this guard that second call, made while the
        first still runs the status callbacks, raised ophyd's ``InvalidState`` (a traceback in the
        log after every user abort)."""
        if self._finishing:
            return
        self._finishing = True
        try:
            super()._done_moving(success=success, timestamp=timestamp, value=value, **kwargs)
        finally:
            self._finishing = False

    def _update_readback(self, value: float) -> None:
        self.readback.put(value)
        self._set_position(value)

    def _abort_running_move(self) -> None:
        thread = self._move_thread
        if thread is not None and thread.is_alive():
            self._stop_event.set()
            self._done_moving(success=False)
        self._move_thread = None

    def stop(self, *, success: bool = False) -> None:
        """Stop a running move where it is; its status fails unless ``success``."""
        self._stop_event.set()
        moving = self.moving
        self.motor_is_moving.put(0)
        if moving:
            self.setpoint.put(self.position)
        Device.stop(self, success=success)
        PositionerBase.stop(self, success=success)  # Device.stop does not chain to it
        self._move_thread = None

    def on_scan_open(self, scan_info: dict[str, Any]) -> None:
        """Hook called when a scan that includes this device opens (nothing to do for a motor)."""
        self._last_scan_id = scan_info.get("scan_id")

    def destroy(self) -> None:
        """Stop any move and release the device."""
        self._stop_event.set()
        super().destroy()
