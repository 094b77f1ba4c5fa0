"""Errors of the file writer (in bec-core's one tree)."""

from __future__ import annotations

from bec_core.errors import BECError


class FileWriteError(BECError):
    """A scan's file could not be created or written; the message names the file."""
