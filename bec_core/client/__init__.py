"""The user's side of bec-core: scripting API, IPython shell (``bec``) and CLI (``bec scan ...``).

``from bec_core.client import BECClient`` is all a script needs. Imports are
lazy so that ``bec --help`` and the shell start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bec_core.client.client import BECClient
    from bec_core.client.data import ScanData
    from bec_core.client.errors import (
        ScanAbortedError,
        ScanArgumentError,
        ScanRejectedError,
        ServerNotRunningError,
        UnknownDeviceError,
    )
    from bec_core.client.movement import MoveStatus
    from bec_core.client.report import ScanItem, ScanReport

_EXPORTS = {
    "BECClient": "bec_core.client.client",
    "ScanData": "bec_core.client.data",
    "MoveStatus": "bec_core.client.movement",
    "ScanItem": "bec_core.client.report",
    "ScanReport": "bec_core.client.report",
    "ScanAbortedError": "bec_core.client.errors",
    "ScanArgumentError": "bec_core.client.errors",
    "ScanRejectedError": "bec_core.client.errors",
    "ServerNotRunningError": "bec_core.client.errors",
    "UnknownDeviceError": "bec_core.client.errors",
}

__all__ = [
    "BECClient",
    "MoveStatus",
    "ScanAbortedError",
    "ScanArgumentError",
    "ScanData",
    "ScanItem",
    "ScanRejectedError",
    "ScanReport",
    "ServerNotRunningError",
    "UnknownDeviceError",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bec_core.client' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
