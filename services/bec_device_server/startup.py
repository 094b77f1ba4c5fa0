"""Start-up of the device server: the device modules a config names imported early, the cyclic GC paused.

Most of the device server's start-up is importing the device libraries
(``import ophyd_devices`` alone is ~1.8 s of CPU: ophyd, bec_lib, lmfit, scipy)
and constructing the devices: millions of new objects, none of them garbage.
Two measures, neither changing which class a config gets:

* :func:`preload` imports the modules a config's ``deviceClass`` entries name
  (only those, and only within the allowed modules) in a background thread,
  started as soon as the config is known, so that the import overlaps the
  service's own start-up (Redis connection, heartbeat, subscriptions). The
  build then finds the modules in ``sys.modules``; a module that fails to import
  is imported again by :func:`~bec_device_server.resolve.resolve_device_class`,
  which reports the error as before.
* :func:`pause_gc` turns the cyclic garbage collector off for the start-up
  (it would otherwise scan the growing heap again and again: ~18 % of the
  import's CPU); :func:`resume_gc`, called once the service is RUNNING, collects
  once, moves the surviving start-up objects (modules, classes, devices) to the
  permanent generation (``gc.freeze``) so that later collections do not scan
  them, and turns the collector back on. :func:`release_frozen`, called when
  devices are destroyed (a config change), hands the frozen objects back to the
  collector, so that replaced devices' reference cycles are collected.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future

from bec_device_server.config import DeviceConfig

log = logging.getLogger(__name__)

_gc_paused = False


def config_modules(configs: Iterable[DeviceConfig], allowed_modules: Iterable[str]) -> list[str]:
    """The modules named by the ``deviceClass`` of the enabled devices, within the allowed modules,
    each once, in config order."""
    allowed = set(allowed_modules)
    modules: dict[str, None] = {}
    for cfg in configs:
        if not cfg.enabled:
            continue
        module = cfg.deviceClass.strip().rpartition(".")[0]
        if module and module.split(".", 1)[0] in allowed and all(p.isidentifier() for p in module.split(".")):
            modules[module] = None
    return list(modules)


def preload(modules: list[str]) -> Future[None]:
    """Import ``modules`` in a thread; the future is done when every import has been tried.

    Import errors are left for the build to report (it imports the module again). The thread is
    not a daemon: a process that exits early (Redis refused it) waits for the imports to end, as a
    daemon thread frozen at exit while it holds an import lock would hang the interpreter's
    finalization (an object's ``__del__`` importing a module then waits for that lock for ever).
    """
    done: Future[None] = Future()

    def run() -> None:
        try:
            for module in modules:
                try:
                    importlib.import_module(module)
                except BaseException as exc:  # reported by resolve_device_class, which tries again
                    log.debug("preloading %s failed: %s", module, exc)
        finally:
            done.set_result(None)

    if not modules:
        done.set_result(None)
        return done
    threading.Thread(target=run, name="device-imports", daemon=False).start()
    return done


def pause_gc() -> None:
    """Turn the cyclic GC off until :func:`resume_gc` (call it in the service process only)."""
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def resume_gc() -> None:
    """After start-up: collect once, freeze the survivors, turn the GC on (no-op unless paused)."""
    global _gc_paused
    if not _gc_paused:
        return
    _gc_paused = False
    gc.collect()
    gc.freeze()
    gc.enable()


def release_frozen() -> None:
    """Give the objects frozen by :func:`resume_gc` back to the collector (devices are being replaced)."""
    if gc.get_freeze_count():
        gc.unfreeze()


__all__ = ["config_modules", "pause_gc", "preload", "release_frozen", "resume_gc"]
