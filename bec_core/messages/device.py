"""Device readings, device instructions and device configuration messages (BEC 4.x)."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from bec_core.messages.base import BECMessage
from bec_core.messages.helpers import ErrorInfo

_READING_KEYS = frozenset(("value", "timestamp"))

#: BEC 4.x's instruction actions, plus our internal "point" (read all devices of a
#: scan point at once) and "stop".
DeviceInstructionAction = Literal[
    "rpc",
    "set",
    "read",
    "kickoff",
    "complete",
    "trigger",
    "stage",
    "unstage",
    "pre_scan",
    "wait",
    "scan_report_instruction",
    "open_scan",
    "baseline_reading",
    "close_scan",
    "publish_data_as_read",
    "broadcast_scan_device_info",
    "point",
    "stop",
]

ConfigAction = Literal["add", "set", "update", "reload", "remove", "reset", "cancel"]


class DeviceMessage(BECMessage):
    """Readings of a device, exactly ophyd's ``read()``: ``{signal: {"value": v, "timestamp": t}}``."""

    msg_type: ClassVar[str] = "device_message"
    # Semantically dict[str, dict[Literal["value", "timestamp"], Any]] as in BEC; checked by hand
    # below because pydantic's per-item validation of that type is the most expensive part of
    # decoding a reading (it runs for every device at every scan point).
    signals: dict

    @field_validator("signals")
    @classmethod
    def _check_signals(cls, signals: dict) -> dict:
        for name, reading in signals.items():
            if type(name) is not str or type(reading) is not dict or not reading.keys() <= _READING_KEYS:
                raise ValueError(
                    f"signal {name!r}: expected a str name and a dict with keys 'value' and 'timestamp', "
                    f"got {reading!r:.80}"
                )
        return signals


class DeviceInstructionMessage(BECMessage):
    """An instruction for the device server (stage, set, read, trigger, rpc, ...)."""

    msg_type: ClassVar[str] = "device_instruction"
    device: str | list[str] | None
    action: DeviceInstructionAction
    parameter: dict


class DeviceInstructionResponse(BECMessage):
    """The device server's reply to an instruction: running, completed or error."""

    msg_type: ClassVar[str] = "device_instruction_response"
    device: str | list[str] | None
    status: Literal["completed", "running", "error"]
    error_info: ErrorInfo | None = None
    instruction: DeviceInstructionMessage
    instruction_id: str
    result_is_status: bool | None = None
    result: Any | None = None


class DeviceRPCMessage(BECMessage):
    """The result of a remote procedure call on a device: return value, output, success."""

    msg_type: ClassVar[str] = "device_rpc_message"
    device: str
    return_val: Any
    out: str | dict | ErrorInfo
    success: bool = True


class DeviceStatusMessage(BECMessage):
    """An integer status of a device (e.g. staged = 1)."""

    msg_type: ClassVar[str] = "device_status_message"
    device: str
    status: int


class DeviceReqStatusMessage(BECMessage):
    """Whether a request on a device succeeded."""

    msg_type: ClassVar[str] = "device_req_status_message"
    device: str
    success: bool
    request_id: str


class DeviceInfoMessage(BECMessage):
    """Description of a device (its signals, methods and sub-devices) for clients."""

    msg_type: ClassVar[str] = "device_info_message"
    device: str
    info: dict


class DeviceConfigMessage(BECMessage):
    """A device configuration change: add, set, update, reload, remove, reset or cancel."""

    msg_type: ClassVar[str] = "device_config_message"
    action: ConfigAction | None = None
    config: dict | None = None

    @model_validator(mode="after")
    def _config_required(self) -> DeviceConfigMessage:
        if self.action in ("add", "set", "update") and not self.config:
            raise ValueError(f"Invalid config {self.config!r} for action {self.action!r}: must be a dict")
        return self


class DeviceInitializationProgressMessage(BECMessage):
    """Progress of the device server initialising the configured devices."""

    msg_type: ClassVar[str] = "device_initialization_progress_message"
    device: str
    finished: bool
    success: bool
    index: int
    total: int


class DevicePreviewMessage(BECMessage):
    """A preview frame of a device signal (e.g. a detector image)."""

    msg_type: ClassVar[str] = "device_preview_message"
    device: str
    signal: str
    data: Any
    timestamp: float = Field(default_factory=time.time)
