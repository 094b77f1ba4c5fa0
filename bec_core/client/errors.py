"""Errors the client raises; all derive from :class:`bec_core.errors.BECError`.

The shell and the CLI print any ``BECError`` as one readable line.
"""

from __future__ import annotations

from bec_core.errors import BECError, ConnectorError, DeviceError, RequestTimeoutError, ScanError

START_HINT = "start the stack with `bec-server start`"


class ScanArgumentError(ScanError, TypeError):
    """A scan call does not fit the scan's signature (nothing was sent)."""


class ScanRejectedError(ScanError):
    """The scan server refused a request; the text is the server's reason."""


class ScanAbortedError(ScanError):
    """A scan ended ``aborted``, ``halted`` or ``user_completed`` instead of ``closed``."""

    def __init__(self, message: str, status: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ServerNotRunningError(ConnectorError):
    """Redis answers but the scan server (or device server) does not; or Redis does not answer."""


class UnknownDeviceError(DeviceError, AttributeError, KeyError):
    """A device name that is not in the session."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


__all__ = [
    "START_HINT",
    "BECError",
    "RequestTimeoutError",
    "ScanAbortedError",
    "ScanArgumentError",
    "ScanRejectedError",
    "ServerNotRunningError",
    "UnknownDeviceError",
]
