"""Errors of ``bec-scihub`` (all under :class:`bec_core.errors.BECError`)."""

from __future__ import annotations

from bec_core.errors import BECError, ConfigError


class SinkError(BECError):
    """A logbook sink could not take a record."""


class SinkConfigError(ConfigError):
    """``scihub.logbook.sinks`` names a sink that is not installed, or one that cannot be built."""


class RestartError(BECError):
    """A ``restart`` service request cannot be carried out; the text says why."""
