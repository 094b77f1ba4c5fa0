"""A simulated 2-D camera producing numpy frames.

``deviceConfig`` keys: ``image_shape: [rows, cols]`` (default ``[64, 64]``),
``exp_time`` (seconds a software trigger takes), ``frames`` (frames per
trigger), ``noise_multiplier``, ``sim_init`` (accepted for BEC compatibility;
``image_shape`` may also be given there). ``device_access`` is ignored.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Signal, SignalRO
from ophyd.status import DeviceStatus

from bec_device_server.sim.lean import LeanRead


class _ImageSignal(SignalRO):
    """The current frame, computed on ``get()``."""

    def get(self, **kwargs: Any) -> np.ndarray:
        """A fresh frame."""
        frame = self.parent.make_frame()
        self._readback = frame
        self._metadata["timestamp"] = time.time()
        return frame

    def describe(self) -> dict[str, dict[str, Any]]:
        """Array description with the frame shape (no frame is computed)."""
        shape = list(self.parent.image_shape.get())
        return {self.name: {"source": "SIM:image", "dtype": "array", "shape": shape}}


class SimCamera(LeanRead, Device):
    """A 2-D detector: ``image`` (normal kind) and config ``exp_time``, ``frames``, ``image_shape``."""

    USER_ACCESS = ["image", "exp_time", "frames"]
    bec_cheap_read = True
    bec_inline_calls = True

    image = Cpt(_ImageSignal, value=0, kind="normal")
    exp_time = Cpt(Signal, value=0.0, kind="config")
    frames = Cpt(Signal, value=1, kind="config")
    image_shape = Cpt(Signal, value=[64, 64], kind="config")
    frame_number = Cpt(Signal, value=0, kind="normal")

    def __init__(
        self,
        name: str,
        *,
        image_shape: list[int] | tuple[int, int] | None = None,
        exp_time: float = 0.0,
        frames: int = 1,
        noise_multiplier: float = 5.0,
        sim_init: dict[str, Any] | None = None,
        device_access: bool = False,
        device_manager: Any = None,
        parent: Any = None,
        kind: Any = None,
        **kwargs: Any,
    ) -> None:
        shape = image_shape or (sim_init or {}).get("image_shape") or (sim_init or {}).get("shape")
        shape = [int(v) for v in (shape or (64, 64))]
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"{name}: image_shape must be two positive integers, not {shape!r}")
        self._noise = float(noise_multiplier)
        self._rng = np.random.default_rng()
        self._pending: list[tuple[threading.Timer, DeviceStatus]] = []
        super().__init__(name=name, parent=parent, kind=kind, **kwargs)
        self.image_shape.put(shape)
        self.exp_time.put(float(exp_time))
        self.frames.put(int(frames))

    def make_frame(self) -> np.ndarray:
        """A frame: a 2-D Gaussian spot on a noisy background (uint16)."""
        rows, cols = self.image_shape.get()
        y, x = np.ogrid[:rows, :cols]
        spot = 1000.0 * np.exp(
            -((x - cols / 2) ** 2 + (y - rows / 2) ** 2) / (2 * (min(rows, cols) / 8) ** 2)
        )
        frame = spot + self._noise * self._rng.random((rows, cols))
        return frame.astype(np.uint16)

    def trigger(self) -> DeviceStatus:
        """Acquire: the status finishes after ``exp_time * frames`` seconds (at once for 0)."""
        status = DeviceStatus(self)
        duration = float(self.exp_time.get()) * max(1, int(self.frames.get()))

        def finish() -> None:
            self.frame_number.put(int(self.frame_number.get()) + 1)
            status.set_finished()

        if duration <= 0:
            finish()
        else:
            timer = threading.Timer(duration, finish)
            timer.daemon = True
            self._pending = [(t, s) for t, s in self._pending if not s.done] + [(timer, status)]
            timer.start()
        return status

    def on_scan_open(self, scan_info: dict[str, Any]) -> None:
        """Take ``exp_time`` and ``frames_per_trigger`` from the scan's parameters."""
        params = scan_info.get("scan_parameters") or {}
        if params.get("exp_time") is not None:
            self.exp_time.put(float(params["exp_time"]))
        if params.get("frames_per_trigger") is not None:
            self.frames.put(int(params["frames_per_trigger"]))
        self.frame_number.put(0)

    def stop(self, *, success: bool = False) -> None:
        """Abort pending acquisitions."""
        pending, self._pending = self._pending, []
        for timer, status in pending:
            timer.cancel()
            if not status.done:
                status.set_exception(RuntimeError(f"{self.name}: acquisition stopped"))
        super().stop(success=success)
