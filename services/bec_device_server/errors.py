"""Errors of the device server (all derive from :class:`bec_core.errors.DeviceError`)."""

from __future__ import annotations

from bec_core.errors import ConfigError, DeviceError


class InstructionError(DeviceError):
    """An instruction cannot be executed: unknown action, unknown or disabled device, bad parameters."""

    def __init__(self, message: str, device: str | list[str] | None = None) -> None:
        super().__init__(message)
        self.device = device


class DeviceActionError(DeviceError):
    """A device raised or timed out while executing an action; ``device`` names it."""

    def __init__(self, message: str, device: str, exception_type: str = "DeviceError") -> None:
        super().__init__(message)
        self.device = device
        self.exception_type = exception_type


class DeviceConnectionError(DeviceError):
    """A device was constructed but could not connect or initialise (describe, ``on_connected``,
    first readings, ``deviceConfig``, proxy registration): it is kept, disabled, as stock does."""


class DeviceAbortError(DeviceError):
    """Device code raised ``SystemExit`` or ``KeyboardInterrupt`` in a worker thread (it fails that
    call or build only; the server goes on)."""


class DeviceClassError(ConfigError):
    """A ``deviceClass`` cannot be resolved or is not allowed."""


class RPCError(DeviceError):
    """A remote procedure call was refused (private or unreachable attribute) or failed."""


class SimulatedFailure(RuntimeError):
    """Raised by the failure-injecting simulated device."""


__all__ = [
    "DeviceAbortError",
    "DeviceActionError",
    "DeviceClassError",
    "DeviceConnectionError",
    "InstructionError",
    "RPCError",
    "SimulatedFailure",
]
