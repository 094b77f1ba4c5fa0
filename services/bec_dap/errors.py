"""Errors of the DAP service; each text is what the requesting client is told."""

from __future__ import annotations

from bec_core.errors import BECError


class DAPError(BECError):
    """Root of the DAP service's errors: a request that cannot be answered with a fit."""


class DAPRequestError(DAPError, ValueError):
    """The request itself is wrong: unknown plugin or model, bad arguments or parameters."""


class DAPDataError(DAPError):
    """The data to fit is not there: unknown scan, device or signal, or too few points."""


class FitError(DAPError):
    """lmfit raised, or the fit did not converge; the text carries lmfit's reason."""
