"""A simulated monitor (counter, beam position monitor, diode) whose value is computed on every read.

``deviceConfig`` keys (all optional; ``deviceConfig: null`` gives BEC's default,
a constant plus uniform noise):

* ``model``: ``constant`` (or ``ConstantModel``) or ``gaussian`` (``GaussianModel``);
* ``ref_motor``: name of the device the Gaussian follows (e.g. ``samx``);
* ``center``, ``sigma``, ``amplitude``, ``offset`` (Gaussian) / ``value`` (constant);
* ``noise``: ``uniform``, ``poisson`` or ``none``; ``noise_multiplier`` (default 10);
* ``sim_init``: ``{"model", "params": {...}, "ref_motor", "noise", "noise_multiplier"}``,
  the same keys nested as BEC writes them.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Signal, SignalRO

from bec_device_server.sim.lean import LeanRead

_MODELS = {
    "constant": "constant",
    "constantmodel": "constant",
    "gaussian": "gaussian",
    "gaussianmodel": "gaussian",
}
_NOISE = ("uniform", "poisson", "none")


class ComputedSignal(SignalRO):
    """A read-only signal whose value the parent device computes on each ``get()``."""

    def get(self, **kwargs: Any) -> Any:
        """Compute, remember and return a fresh value."""
        value = self._parent.compute_value()
        self._readback = value
        self._metadata["timestamp"] = time.time()
        return value


class SimMonitor(LeanRead, Device):
    """A simulated scalar detector; ``readback`` is named like the device and hinted."""

    USER_ACCESS = ["readback", "sim_parameters"]
    bec_cheap_read = True
    bec_inline_calls = True

    readback = Cpt(ComputedSignal, value=0.0, kind="hinted")
    noise_multiplier = Cpt(Signal, value=10.0, kind="config")

    def __init__(
        self,
        name: str,
        *,
        model: str = "constant",
        ref_motor: str | None = None,
        center: float = 0.0,
        sigma: float = 1.0,
        amplitude: float = 100.0,
        offset: float = 0.0,
        value: float = 0.0,
        noise: str = "uniform",
        noise_multiplier: float = 10.0,
        precision: int = 3,
        sim_init: dict[str, Any] | None = None,
        device_manager: Any = None,
        parent: Any = None,
        kind: Any = None,
        **kwargs: Any,
    ) -> None:
        params: dict[str, Any] = {
            "model": model,
            "ref_motor": ref_motor,
            "center": center,
            "sigma": sigma,
            "amplitude": amplitude,
            "offset": offset,
            "value": value,
            "noise": noise,
        }
        if sim_init:
            params.update({k: v for k, v in sim_init.items() if k != "params"})
            params.update(sim_init.get("params") or {})
            noise_multiplier = float(sim_init.get("noise_multiplier", noise_multiplier))
            if "c" in params:
                params["offset"] = params["value"] = params.pop("c")
        model_key = _MODELS.get(str(params["model"]).lower())
        if model_key is None:
            raise ValueError(f"{name}: unknown model {params['model']!r}; use constant or gaussian")
        if params["noise"] not in _NOISE:
            raise ValueError(f"{name}: unknown noise {params['noise']!r}; use one of {', '.join(_NOISE)}")
        if model_key == "gaussian" and float(params["sigma"]) <= 0:
            raise ValueError(f"{name}: sigma must be > 0")
        params["model"] = model_key
        self.sim_parameters = params
        self.precision = precision
        self._device_manager = device_manager
        self._rng = np.random.default_rng()
        self._uniforms: list[float] = []
        super().__init__(name=name, parent=parent, kind=kind, **kwargs)
        self.readback.name = self.name
        self.noise_multiplier.put(float(noise_multiplier))

    def _reference_position(self) -> float:
        ref = self.sim_parameters["ref_motor"]
        if not ref or self._device_manager is None:
            return 0.0
        motor = self._device_manager.get(ref)
        if motor is None:
            return 0.0
        return float(motor.position if hasattr(motor, "position") else motor.get())

    def _uniform(self) -> float:
        """The next uniform [0, 1) number of the device's generator (drawn 256 at a time)."""
        if not self._uniforms:
            self._uniforms = self._rng.random(256).tolist()
        return self._uniforms.pop()

    def compute_value(self) -> float:
        """The current simulated value (model at the reference position, plus noise)."""
        p = self.sim_parameters
        if p["model"] == "gaussian":
            x = self._reference_position()
            sigma = float(p["sigma"])
            base = float(p["offset"]) + float(p["amplitude"]) * math.exp(
                -((x - float(p["center"])) ** 2) / (2 * sigma * sigma)
            )
        else:
            base = float(p["value"])
        noise = p["noise"]
        if noise == "uniform":
            base += float(self.noise_multiplier.get()) * self._uniform()
        elif noise == "poisson":
            base = float(self._rng.poisson(max(base, 0.0)))
        return round(base, self.precision)
