"""Scan plugins: scans a beamline package declares under the ``bec.scans`` entry-point group.

A package lists a module in its metadata (as stock BEC plugins do)::

    [project.entry-points."bec.scans"]
    plugin_scans = "my_beamline.scans"

Every class in that module that subclasses our
:class:`~bec_scan_server.scans.base.ScanBase` and has a ``scan_name`` becomes a
scan. A module that fails to import, a class whose declaration is bad (no
valid name, a name a built-in scan already has, a description that cannot be
built) is reported as a :class:`PluginProblem` naming the plugin; everything
else loads. A class written for stock BEC's scan classes is hosted through
:mod:`bec_scan_server.stock_adapter` (docs/decisions/0006-stock-scan-plugins.md)
when a host is given, and reported otherwise.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from bec_scan_server.scans.base import ScanBase

if TYPE_CHECKING:
    from bec_scan_server.stock_adapter.host import StockHost

log = logging.getLogger(__name__)

GROUP = "bec.scans"


@dataclass(frozen=True, slots=True)
class PluginProblem:
    """Why (part of) a plugin was not loaded."""

    plugin: str
    text: str
    kind: str = "ScanPluginError"


def _is_stock_class(cls: type) -> bool:
    """True for a class derived from stock BEC's scan classes (``bec_server.scan_server``)."""
    return any(base.__module__.startswith("bec_server.") for base in cls.__mro__[1:])


def _candidates(module: ModuleType) -> list[type]:
    """Classes of the plugin module (defined there or re-exported), without ours and stock's own."""
    return [
        obj
        for _name, obj in inspect.getmembers(module, inspect.isclass)
        if not obj.__module__.startswith(("bec_scan_server.", "bec_server.", "bec_lib."))
    ]


def scans_of_module(
    plugin: str, module: ModuleType, taken: Iterable[str], host: StockHost | None = None
) -> tuple[dict[str, type[ScanBase]], list[PluginProblem]]:
    """The scans one plugin module offers, and the problems with the rest of it.

    With a ``host``, a class written for stock BEC's scan classes is hosted through
    the adapter (:mod:`bec_scan_server.stock_adapter`); without one it is a problem.
    """
    found: dict[str, type[ScanBase]] = {}
    problems: list[PluginProblem] = []
    taken = set(taken)
    for cls in _candidates(module):
        where = f"{plugin}: {cls.__module__}.{cls.__qualname__}"
        declared = str(getattr(cls, "scan_name", "") or "")
        if _is_stock_class(cls) and declared and host is not None:
            problem = _host(plugin, where, cls, host, taken | set(found), found)
            if problem is not None:
                problems.append(problem)
            continue
        if _is_stock_class(cls) and declared:
            problems.append(
                PluginProblem(
                    plugin,
                    f"{where}: scan {declared!r} is written for stock BEC's scan classes, "
                    "which bec-core does not host (docs/decisions/0006-stock-scan-plugins.md)",
                    "UnsupportedScanPlugin",
                )
            )
            continue
        if not issubclass(cls, ScanBase) or not cls.scan_name:
            continue
        name = cls.scan_name
        if not name.isidentifier():
            problems.append(PluginProblem(plugin, f"{where}: scan_name {name!r} is not a Python identifier"))
            continue
        if name in taken or name in found:
            problems.append(PluginProblem(plugin, f"{where}: a scan named {name!r} exists already; skipped"))
            continue
        try:
            cls.describe()
        except Exception as exc:
            problems.append(PluginProblem(plugin, f"{where}: its declaration is invalid: {exc}"))
            continue
        found[name] = cls
    return found, problems


def _host(
    plugin: str, where: str, cls: type, host: StockHost, taken: set[str], found: dict[str, type[ScanBase]]
) -> PluginProblem | None:
    """Add the hosted form of a stock scan class to ``found``, or say why not."""
    from bec_scan_server.stock_adapter.declare import hosted_class, is_stock_scan

    name = str(cls.scan_name)  # type: ignore[attr-defined]
    if not is_stock_scan(cls):
        return None  # a stock helper class (no scan of its own)
    if not name.isidentifier():
        return PluginProblem(plugin, f"{where}: scan_name {name!r} is not a Python identifier")
    if name in taken:
        return PluginProblem(plugin, f"{where}: a scan named {name!r} exists already; skipped")
    try:
        found[name] = hosted_class(cls, host)
    except Exception as exc:
        return PluginProblem(plugin, f"{where}: its stock declaration cannot be published: {exc}")
    return None


def _load(entry: importlib.metadata.EntryPoint, reload: bool) -> ModuleType:
    name = entry.value.split(":")[0].strip()
    if reload:
        importlib.invalidate_caches()
        for mod_name in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod_name]  # a fresh import sees changed and new files
    loaded = entry.load()
    return loaded if isinstance(loaded, ModuleType) else importlib.import_module(name)


def load_plugins(
    builtin: dict[str, type[ScanBase]], reload: bool = False, host: StockHost | None = None
) -> tuple[dict[str, type[ScanBase]], list[PluginProblem]]:
    """Every plugin scan of the installed packages (not the built-ins), and the problems met."""
    scans: dict[str, type[ScanBase]] = {}
    problems: list[PluginProblem] = []
    if reload and host is not None:
        from bec_scan_server.stock_adapter.declare import reset_discovery

        reset_discovery()  # a changed scan modifier is seen too
    for entry in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name):
        plugin = f"{entry.name} ({entry.value})"
        try:
            module = _load(entry, reload)
        except Exception as exc:  # anything a broken plugin raises at import
            text = f"{plugin}: cannot be imported: {type(exc).__name__}: {exc}"
            problems.append(PluginProblem(plugin, text))
            continue
        found, trouble = scans_of_module(plugin, module, [*builtin, *scans], host)
        scans.update(found)
        problems += trouble
    for problem in problems:
        log.warning("scan plugin: %s", problem.text)
    return scans, problems
