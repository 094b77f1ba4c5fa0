"""Turn a ``deviceClass`` string into a class, within an allow-list of modules; construct it as stock does.

* ``ophyd_devices.X`` (short, ``ophyd_devices.SimPositioner``, or the full module
  path, ``ophyd_devices.sim.sim_positioner.SimPositioner``) is the real class of
  the ``ophyd_devices`` package, as in stock BEC.
* bec-core's own fast simulations are named by their own path:
  ``bec_device_server.sim.SimPositioner``, ``bec_device_server.sim.SimMonitor``,
  ``bec_device_server.sim.SimCamera``.
* Any other path is ``module.Class``; the top-level package of ``module`` must be
  in ``device_server.allowed_modules`` *before* anything is imported (a beamline
  adds its plugin package there), and the result must be an ophyd object class or
  an ``ophyd_devices.BECDeviceBase`` (device proxies such as ``SlitProxy``).

Construction follows stock's device manager: the ``deviceConfig`` keys that are
parameters of the class's signature (or of ophyd's ``Signal`` /
``EpicsSignalBase`` / ``OphydObject`` for signal classes) go to the
constructor, with ``name``, and ``device_manager`` / ``scan_info`` when the
signature names them; the other keys are applied afterwards
(:func:`bec_device_server.devices.apply_config`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Iterable
from typing import Any

from bec_device_server.errors import DeviceClassError


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
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DeviceClassError(f"deviceClass {path!r}: cannot import {module_name!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        # stock's wording (an AttributeError of the import), which stock scripts match
        raise DeviceClassError(
            f"deviceClass {path!r}: module {module_name!r} has no attribute {class_name!r}"
        )
    if not inspect.isclass(cls) or not issubclass(cls, (OphydObject, *_bec_device_bases())):
        raise DeviceClassError(f"deviceClass {path!r} is not an ophyd device or signal class")
    return cls


def _bec_device_bases() -> tuple[type, ...]:
    """``ophyd_devices.BECDeviceBase``: the base of device proxies (``SlitProxy``), which stock
    hosts although it is no ophyd object."""
    try:
        from ophyd_devices import BECDeviceBase
    except ImportError:  # pragma: no cover - ophyd_devices is a dependency
        return ()
    return (BECDeviceBase,)


@functools.lru_cache(maxsize=512)
def constructor_parameters(cls: type) -> frozenset[str]:
    """Parameter names stock passes from ``deviceConfig`` to the constructor of ``cls`` (cached per
    class: a config names few classes for many devices)."""
    import ophyd
    from ophyd.signal import EpicsSignalBase

    classes: list[type] = [cls]
    if issubclass(cls, ophyd.Signal):
        classes.append(ophyd.Signal)
    if issubclass(cls, EpicsSignalBase):
        classes.append(EpicsSignalBase)
    if issubclass(cls, ophyd.ophydobj.OphydObject):
        classes.append(ophyd.ophydobj.OphydObject)
    names: set[str] = set()
    for klass in classes:
        try:
            names.update(inspect.signature(klass).parameters)
        except (TypeError, ValueError):
            continue
    return frozenset(names)


def split_device_config(cls: type, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``deviceConfig`` → (constructor kwargs, keys to apply after construction)."""
    accepted = constructor_parameters(cls)
    kwargs = {k: v for k, v in config.items() if k in accepted}
    rest = {k: v for k, v in config.items() if k not in accepted}
    return kwargs, rest


@functools.lru_cache(maxsize=1024)
def wants(cls: type, parameter: str) -> bool:
    """True if the class's own signature names ``parameter`` (``device_manager``, ``scan_info``;
    cached per class)."""
    try:
        return parameter in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def is_delayed(cls: type) -> bool:
    """ComputedSignal and DeviceProxy classes are built after all other devices (as stock)."""
    try:
        import ophyd_devices as opd
    except ImportError:  # pragma: no cover
        return False
    return issubclass(cls, (opd.DeviceProxy, opd.ComputedSignal))


__all__ = ["constructor_parameters", "is_delayed", "resolve_device_class", "split_device_config", "wants"]
