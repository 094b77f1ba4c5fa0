"""Service heartbeats, service requests, metrics, client notices, logs and alarms (BEC 4.x)."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from bec_core.messages.base import BECMessage
from bec_core.messages.helpers import BECStatus, ErrorInfo, ServiceInfo


class StatusMessage(BECMessage):
    """A service heartbeat: service name, :class:`BECStatus` and :class:`ServiceInfo`."""

    msg_type: ClassVar[str] = "status_message"
    name: str
    status: BECStatus
    info: ServiceInfo | dict


class ServiceResponseMessage(BECMessage):
    """A service's reply to a request (pushed on a per-request list)."""

    msg_type: ClassVar[str] = "service_response_message"
    response: dict


class ServiceRequestMessage(BECMessage):
    """A request to a service: restart, or reload the available scans."""

    msg_type: ClassVar[str] = "service_request_message"
    action: Literal["restart", "reload_scans"]


class ServiceMetricMessage(BECMessage):
    """Metrics published by a service."""

    msg_type: ClassVar[str] = "service_metric_message"
    name: str
    metrics: dict


class DynamicMetricMessage(BECMessage):
    """A group of named metric values for the log ingestor."""

    msg_type: ClassVar[str] = "dynamic_metric_message"
    metrics: dict[str, Any]
    timestamp: float = Field(default_factory=time.time)


class ClientInfoMessage(BECMessage):
    """A notice for the user's client console (severity 0 info, 1 warning, 2 error)."""

    msg_type: ClassVar[str] = "client_info"
    message: str
    show_asap: bool = True
    RID: str | None = None
    source: Literal[
        "bec_ipython_client",
        "scan_server",
        "device_server",
        "scan_bundler",
        "file_writer",
        "scihub",
        "dap",
        None,
    ] = None
    scope: str | None = None
    severity: int = 0
    expire: float = 60.0


class ClientRestartMessage(BECMessage):
    """Asks the IPython clients to restart."""

    msg_type: ClassVar[str] = "client_restart"
    reason: str = ""


class AlarmMessage(BECMessage):
    """An alarm: severity 0 WARNING, 1 MINOR, 2 MAJOR, with an :class:`ErrorInfo`."""

    msg_type: ClassVar[str] = "alarm_message"
    severity: int
    info: ErrorInfo


class LogMessage(BECMessage):
    """One log record of a service."""

    msg_type: ClassVar[str] = "log_message"
    log_type: Literal[
        "trace",
        "debug",
        "info",
        "success",
        "warning",
        "error",
        "critical",
        "console_log",
        "console_log_error",
    ]
    log_msg: dict | str


class LoginInfoMessage(BECMessage):
    """Public login information: host, deployment and the accounts one can log in with."""

    msg_type: ClassVar[str] = "login_info_message"
    host: str
    deployment: str
    available_accounts: list[str]
    atlas_login: bool


class CredentialsMessage(BECMessage):
    """Credentials for an ACL session."""

    msg_type: ClassVar[str] = "credentials_message"
    credentials: dict
