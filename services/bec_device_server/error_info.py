"""The ErrorInfo that answers carry (instruction replies, failed ``device_req_status``)."""

from __future__ import annotations

from typing import Any

from bec_core.errors import BECError
from bec_core.messages import ErrorInfo
from bec_core.text import bounded_error_info
from bec_device_server.devices import describe_exception


def error_info(exc: BaseException, device: Any) -> ErrorInfo:
    """ErrorInfo for an error reply: full text, one line, exception type, device(s)."""
    if isinstance(exc, BECError):
        full = compact = str(exc)
        compact = compact.splitlines()[0] if compact else type(exc).__name__
    else:
        full, compact = describe_exception(exc)
    exc_type = getattr(exc, "exception_type", None) or type(exc).__name__
    return bounded_error_info(
        ErrorInfo(
            error_message=full,
            compact_error_message=compact,
            exception_type=exc_type,
            device=getattr(exc, "device", None) or device,
        )
    )


__all__ = ["error_info"]
