"""Variables, resources, progress, files, bundles, data processing (DAP) messages (BEC 4.x)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from bec_core.messages.base import BECMessage


class BundleMessage(BECMessage):
    """A list of messages sent as one (the codec decodes it to the list it holds)."""

    msg_type: ClassVar[str] = "bundle_message"
    messages: list = Field(default_factory=list)

    def append(self, msg: BECMessage) -> None:
        """Add a message to the bundle."""
        if not isinstance(msg, BECMessage):
            raise AttributeError(f"Cannot append message of type {type(msg).__name__}")
        self.messages.append(msg)

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[BECMessage]:  # type: ignore[override]
        yield from self.messages


class VariableMessage(BECMessage):
    """A single value (scan number, global variable, account, ...)."""

    msg_type: ClassVar[str] = "var_message"
    value: Any


class AvailableResourceMessage(BECMessage):
    """A resource description: the device config, the available scans, ..."""

    msg_type: ClassVar[str] = "available_resource_message"
    resource: dict | list[dict] | BaseModel | list[BaseModel]


class ProgressMessage(BECMessage):
    """Progress of a scan, a device or a named task: value out of max_value, done."""

    msg_type: ClassVar[str] = "progress_message"
    value: float
    max_value: float
    done: bool


class FileMessage(BECMessage):
    """Status of a file being written (path, done, successful, device, type, hinted entries)."""

    msg_type: ClassVar[str] = "file_message"
    file_path: str
    done: bool
    successful: bool
    is_master_file: bool = False
    device_name: str | list[str] | None = None
    file_type: str = "h5"
    hinted_h5_entries: dict[str, str] | None = None


class FileContentMessage(BECMessage):
    """The content written to a file, with the scan's information."""

    msg_type: ClassVar[str] = "file_content_message"
    file_path: str
    data: dict
    scan_info: dict


class RawMessage(BECMessage):
    """Raw data that was not encoded as a message (e.g. parsed JSON)."""

    msg_type: ClassVar[str] = "raw_message"
    data: Any


class ObserverMessage(BECMessage):
    """The list of observer definitions."""

    msg_type: ClassVar[str] = "observer_message"
    observer: list[dict]


class ProcessedDataMessage(BECMessage):
    """Data produced by a processing service."""

    msg_type: ClassVar[str] = "processed_data_message"
    data: dict | list[dict]


class DAPConfigMessage(BECMessage):
    """Configuration of the data processing (DAP) service."""

    msg_type: ClassVar[str] = "dap_config_message"
    config: dict


class DAPRequestMessage(BECMessage):
    """A request to a data processing plugin, continuous or on demand."""

    msg_type: ClassVar[str] = "dap_request_message"
    dap_cls: str
    dap_type: Literal["continuous", "on_demand"]
    config: dict


class DAPResponseMessage(BECMessage):
    """The result of a data processing request."""

    msg_type: ClassVar[str] = "dap_response_message"
    success: bool
    data: tuple | None = Field(default_factory=lambda: ({}, None))
    error: str | None = None
    dap_request: BECMessage | None = None
