"""Turn a ``deviceClass`` string into a class, within an allow-list of modules.

* BEC's simulation names (``ophyd_devices.SimPositioner``,
  ``ophyd_devices.sim.sim_positioner.SimPositioner``, ``ophyd_devices.sim.sim.SimPositioner``,
  ...) resolve to our simulated devices (:mod:`bec_device_server.sim`).
* Any other path is ``module.Class``: the top-level package of ``module`` must be
  in ``allowed_modules`` *before* anything is imported, and the result must be an
  ophyd object class.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from typing import Any

from bec_device_server import sim
from bec_device_server.errors import DeviceClassError

#: Simulation class names of ``ophyd_devices`` that we provide ourselves.
SIM_CLASSES: dict[str, type] = {
    "SimPositioner": sim.SimPositioner,
    "SimMonitor": sim.SimMonitor,
    "SimCamera": sim.SimCamera,
}


def resolve_device_class(path: str, allowed_modules: Iterable[str]) -> type:
    """The class named by ``path``; raises :class:`DeviceClassError` with a clear reason."""
    from ophyd.ophydobj import OphydObject

    path = path.strip()
    module_name, _, class_name = path.rpartition(".")
    if not module_name or not class_name or not all(p.isidentifier() for p in path.split(".")):
        raise DeviceClassError(f"deviceClass {path!r} is not an import path like 'ophyd.EpicsMotor'")
    top = path.split(".", 1)[0]
    allowed = set(allowed_modules)
    if top not in allowed:
        raise DeviceClassError(
            f"deviceClass {path!r}: module {top!r} is not in the allowed modules "
            f"({', '.join(sorted(allowed))})"
        )
    if top == "ophyd_devices":
        found = SIM_CLASSES.get(class_name)
        if found is None:
            raise DeviceClassError(
                f"deviceClass {path!r}: bec-core simulates only "
                f"{', '.join('ophyd_devices.' + n for n in SIM_CLASSES)}"
            )
        return found
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DeviceClassError(f"deviceClass {path!r}: cannot import {module_name!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise DeviceClassError(f"deviceClass {path!r}: module {module_name!r} has no {class_name!r}")
    if not inspect.isclass(cls) or not issubclass(cls, OphydObject):
        raise DeviceClassError(f"deviceClass {path!r} is not an ophyd device or signal class")
    return cls


def constructor_parameters(cls: type) -> tuple[set[str], bool]:
    """Named keyword parameters accepted along the ``__init__`` chain, and whether ``prefix`` is one.

    ophyd passes ``**kwargs`` up the MRO, so the parameters of every ``__init__``
    that still accepts ``**kwargs`` count.
    """
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            break
        names.update(
            n
            for n, p in params.items()
            if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    return names, "prefix" in names


def split_device_config(cls: type, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``deviceConfig`` → (constructor kwargs, keys to apply after construction)."""
    accepted, _ = constructor_parameters(cls)
    kwargs = {k: v for k, v in config.items() if k in accepted}
    rest = {k: v for k, v in config.items() if k not in accepted}
    return kwargs, rest


__all__ = ["SIM_CLASSES", "constructor_parameters", "resolve_device_class", "split_device_config"]
