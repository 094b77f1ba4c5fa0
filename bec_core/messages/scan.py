"""Scan data and scan status messages (BEC 4.x names and fields)."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from bec_core.messages.base import BECMessage


class ScanStatusMessage(BECMessage):
    """Status of a scan (open, paused, closed, ...) with its parameters and readout priorities."""

    msg_type: ClassVar[str] = "scan_status"
    scan_id: str | None
    status: Literal["open", "paused", "aborted", "halted", "closed", "user_completed"]
    reason: Literal["user", "alarm"] | None = None
    scan_number: int | None = None
    session_id: str | None = None
    num_points: int | None = None
    num_monitored_readouts: int | None = 0
    scan_name: str | None = None
    scan_type: Literal["step", "fly", "software_triggered", "hardware_triggered"] | None = None
    dataset_number: int | None = None
    scan_report_devices: list[str] | None = None
    user_metadata: dict | None = None
    readout_priority: (
        dict[Literal["monitored", "baseline", "async", "continuous", "on_request"], list[str]] | None
    ) = None
    scan_parameters: dict[
        Literal["exp_time", "frames_per_trigger", "settling_time", "readout_time"] | str, Any
    ] = Field(default_factory=dict)
    request_inputs: dict[Literal["arg_bundle", "inputs", "kwargs"], Any] = Field(default_factory=dict)
    info: dict
    timestamp: float = Field(default_factory=time.time)


class ScanMessage(BECMessage):
    """The readings of one scan point: ``data = {device: {signal: {"value", "timestamp"}}}``."""

    msg_type: ClassVar[str] = "scan_message"
    point_id: int
    scan_id: str
    data: dict


class ScanBaselineMessage(BECMessage):
    """The baseline readings of a scan (devices read once per scan)."""

    msg_type: ClassVar[str] = "scan_baseline_message"
    scan_id: str
    data: dict


class ScanHistoryMessage(BECMessage):
    """Summary of a finished scan, appended to the scan history."""

    msg_type: ClassVar[str] = "scan_history_message"
    scan_id: str
    scan_number: int
    dataset_number: int
    file_path: str
    exit_status: Literal["closed", "aborted", "halted", "user_completed"]
    reason: Literal["user", "alarm"] | None = None
    start_time: float
    end_time: float
    scan_name: str
    num_points: int | None = None
    num_monitored_readouts: int | None = None
    request_inputs: dict | None = None
    stored_data_info: dict[str, dict[str, Any]] | None = None


class ScanDeviceInfoMessage(BECMessage):
    """Runtime information about the devices taking part in a scan."""

    msg_type: ClassVar[str] = "scan_device_info_message"
    scan_id: str
    devices: dict[str, Any]
