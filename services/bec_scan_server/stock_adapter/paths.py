"""Where stock ``bec_server`` and stock-class plugin packages are imported from.

Stock ``bec-server`` installs console scripts named as ours (``bec-server``,
``bec-scan-server``, ...), so it never goes into the scan server's environment.
``scan_server.plugin_paths`` (or ``BEC_SCAN_PLUGIN_PATHS``) names directories
appended to ``sys.path`` *after* our own site-packages: a package both provide
(redis, pydantic, bec_lib) is ours, what only the directory has (``bec_server``,
the plugin, pint, toolz) comes from it, and ``importlib.metadata`` finds the
plugin's ``bec.scans`` entry points there.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def add_plugin_paths(paths: Iterable[Path | str]) -> list[str]:
    """Append the existing directories of ``paths`` to ``sys.path``; returns those added."""
    added = []
    for path in paths:
        text = str(Path(path).expanduser())
        if not Path(text).is_dir():
            log.warning("scan_server.plugin_paths: %s is not a directory; ignored", text)
            continue
        if text not in sys.path:
            sys.path.append(text)
            added.append(text)
    if added:
        importlib.invalidate_caches()
        log.info("scan plugins also imported from: %s", ", ".join(added))
    return added


def stock_available() -> bool:
    """True if stock ``bec_server``'s scan classes can be imported."""
    try:
        importlib.import_module("bec_server.scan_server.scans.scan_base")
    except Exception:
        return False
    return True
