"""Helper models and enums carried inside messages (BEC 4.x names and fields).

These are plain pydantic models, not messages: on the wire they travel in a
``BaseModel`` envelope (or ``Enum`` for :class:`BECStatus`) and the codec
finds them by class name in :data:`HELPER_MODELS` / :data:`ENUMS`.
"""

from __future__ import annotations

import enum
import time
import uuid
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from bec_core.messages.base import register_enum, register_helper_model


@register_enum
class BECStatus(enum.Enum):
    """Status of a service as published in its heartbeat (a plain Enum, as in BEC)."""

    RUNNING = 2
    BUSY = 1
    IDLE = 0
    ERROR = -1


@register_helper_model
class ErrorInfo(BaseModel):
    """Description of an error: message, short message, exception type and device(s)."""

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    error_message: str
    compact_error_message: str | None
    exception_type: str
    device: str | list[str] | None = None


def _safe_version(package: str) -> str:
    try:
        return _package_version(package)
    except PackageNotFoundError:
        return "Not found"


@register_helper_model
class ServiceVersions(BaseModel):
    """Installed versions of the BEC packages, reported in a service heartbeat."""

    _cached: ClassVar[ServiceVersions | None] = None

    bec_lib: str
    bec_server: str
    bec_ipython_client: str
    bec_widgets: str
    ophyd_devices: str

    @classmethod
    def installed(cls) -> ServiceVersions:
        """The versions installed in this environment ("Not found" for a missing package); cached."""
        if cls._cached is None:
            cls._cached = cls(
                bec_lib=_safe_version("bec_lib"),
                bec_server=_safe_version("bec_server"),
                bec_ipython_client=_safe_version("bec_ipython_client"),
                bec_widgets=_safe_version("bec_widgets"),
                ophyd_devices=_safe_version("ophyd_devices"),
            )
        return cls._cached


@register_helper_model
class ServiceInfo(BaseModel):
    """Who runs a service, where, since when, and with which package versions."""

    user: str
    hostname: str
    timestamp: float = Field(default_factory=time.time)
    versions: ServiceVersions = Field(default_factory=ServiceVersions.installed)


@register_helper_model
class DeviceAsyncUpdate(BaseModel):
    """How asynchronous device data is aggregated into a dataset (metadata ``async_update``)."""

    type: Literal["add", "add_slice", "replace"]
    max_shape: list[int | None] | None = None
    index: int | None = None
