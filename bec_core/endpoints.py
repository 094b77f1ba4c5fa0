"""Endpoints: Redis key names with their message type and allowed operations.

``MessageEndpoints.scan_status()`` returns an :class:`EndpointInfo` whose
``message_type`` is the message class and whose ``message_op`` is a
:class:`MessageOp` listing the connector methods allowed on it, exactly as in
BEC 4.x. Connector methods check both before anything is sent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bec_core import messages
from bec_core.messages import BECMessage


class MessageOp(list, enum.Enum):
    """The connector methods allowed on an endpoint (the value is their list)."""

    SET_PUBLISH = ["register", "set_and_publish", "delete", "get", "keys"]
    SEND = ["send", "register"]
    STREAM = ["xadd", "xrange", "xread", "register_stream", "keys", "get_last", "delete"]
    LIST = ["llen", "lpush", "lrange", "lrem", "rpush", "ltrim", "keys", "delete", "blocking_list_pop"]
    KEY_VALUE = ["set", "get", "delete", "keys"]
    SET = ["remove_from_set", "get_set_members", "delete"]

    def __repr__(self) -> str:
        return f"<MessageOp.{self.name}: {list(self.value)}>"

    def __str__(self) -> str:
        return f"MessageOp.{self.name}"

    __hash__ = enum.Enum.__hash__  # type: ignore[assignment]  # list sets it to None


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """A Redis key (also its pub/sub channel), its message class and allowed operations.

    A key containing ``*`` is a pattern: ``register`` pattern-subscribes it and
    ``get`` returns the most recently updated message among the matching keys.
    """

    endpoint: str
    message_type: type[BECMessage]
    message_op: MessageOp

    @property
    def is_pattern(self) -> bool:
        """True when the key is a glob pattern (contains ``*``)."""
        return "*" in self.endpoint

    def allows(self, method: str) -> bool:
        """Whether the connector method ``method`` is allowed here."""
        return method in self.message_op.value

    def __str__(self) -> str:
        return self.endpoint


def _ep(endpoint: str, message_type: type[BECMessage], op: MessageOp) -> EndpointInfo:
    return EndpointInfo(endpoint, message_type, op)


def _sub(value: str | int | None) -> str:
    """Substitute an optional key part; ``None`` means every key (a pattern)."""
    return "*" if value is None else str(value)


class MessageEndpoints:
    """Factory of every endpoint (BEC 4.x method names and key strings).

    A method that substitutes a name into the key takes it as an optional
    argument; ``None`` puts ``*`` in its place, giving a pattern over all names.
    Two endpoints differ from BEC on purpose (internal traffic, PROTOCOL.md
    section 5): :meth:`device_instructions` is a STREAM (acknowledged delivery
    through a consumer group), not SEND.
    """

    # ------------------------------------------------------------------ devices
    @staticmethod
    def device_status(device: str | None = None) -> EndpointInfo:
        """Integer status of a device."""
        return _ep(f"info/devices/status/{_sub(device)}", messages.DeviceStatusMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def device_read(device: str | None = None) -> EndpointInfo:
        """Last ``read()`` of a device; without a device name, the pattern over all devices."""
        return _ep(f"info/devices/read/{_sub(device)}", messages.DeviceMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def device_read_configuration(device: str | None = None) -> EndpointInfo:
        """Last ``read_configuration()`` of a device."""
        return _ep(
            f"info/devices/read_configuration/{_sub(device)}", messages.DeviceMessage, MessageOp.SET_PUBLISH
        )

    @staticmethod
    def device_readback(device: str | None = None) -> EndpointInfo:
        """Readback of a device, updated while it moves."""
        return _ep(f"info/devices/readback/{_sub(device)}", messages.DeviceMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def device_raw(device: str | None = None) -> EndpointInfo:
        """Raw data stream of a device."""
        return _ep(f"info/devices/raw/{_sub(device)}", messages.DeviceMessage, MessageOp.STREAM)

    @staticmethod
    def device_limits(device: str | None = None) -> EndpointInfo:
        """Limits of a device."""
        return _ep(f"info/devices/limits/{_sub(device)}", messages.DeviceMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def device_req_status(request_id: str | None = None) -> EndpointInfo:
        """Outcome of a request on a device."""
        return _ep(
            f"info/devices/req_status/{_sub(request_id)}", messages.DeviceReqStatusMessage, MessageOp.STREAM
        )

    @staticmethod
    def device_progress(device: str | None = None) -> EndpointInfo:
        """Progress of a device's current operation."""
        return _ep(f"info/devices/progress/{_sub(device)}", messages.ProgressMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def device_config_request() -> EndpointInfo:
        """Requests from users to change the device configuration."""
        return _ep("user/devices/config_request", messages.DeviceConfigMessage, MessageOp.SEND)

    @staticmethod
    def device_config_request_response(RID: str | None = None) -> EndpointInfo:
        """Reply to a device configuration request (polled by the client)."""
        return _ep(
            f"info/devices/config_request_response/{_sub(RID)}",
            messages.RequestResponseMessage,
            MessageOp.KEY_VALUE,
        )

    @staticmethod
    def device_server_config_request() -> EndpointInfo:
        """Configuration changes forwarded to the device server."""
        return _ep(
            "internal/devices/device_server_config_update", messages.DeviceConfigMessage, MessageOp.SEND
        )

    @staticmethod
    def device_config_update() -> EndpointInfo:
        """Announcement that the device configuration changed."""
        return _ep("info/devices/config_update", messages.DeviceConfigMessage, MessageOp.SEND)

    @staticmethod
    def device_config() -> EndpointInfo:
        """The current device configuration."""
        return _ep("info/devices/config", messages.AvailableResourceMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def device_config_history() -> EndpointInfo:
        """Earlier device configurations."""
        return _ep("info/devices/config_history", messages.AvailableResourceMessage, MessageOp.LIST)

    @staticmethod
    def device_initialization_progress() -> EndpointInfo:
        """Progress of the device server initialising the devices."""
        return _ep(
            "info/devices/initialization_progress",
            messages.DeviceInitializationProgressMessage,
            MessageOp.SET_PUBLISH,
        )

    @staticmethod
    def device_info(device: str | None = None) -> EndpointInfo:
        """Description of a device for clients."""
        return _ep(f"info/devices/info/{_sub(device)}", messages.DeviceInfoMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def scan_device_info() -> EndpointInfo:
        """Runtime information about the devices of a scan."""
        return _ep("info/scan_device_info", messages.ScanDeviceInfoMessage, MessageOp.STREAM)

    @staticmethod
    def device_staged(device: str | None = None) -> EndpointInfo:
        """Whether a device is staged."""
        return _ep(f"info/devices/staged/{_sub(device)}", messages.DeviceStatusMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def device_async_readback(scan_id: str | None = None, device: str | None = None) -> EndpointInfo:
        """Asynchronous readings of a device during a scan."""
        return _ep(
            f"info/devices/async_readback/{_sub(scan_id)}/{_sub(device)}",
            messages.DeviceMessage,
            MessageOp.STREAM,
        )

    @staticmethod
    def device_async_signal(
        scan_id: str | None = None, device: str | None = None, signal: str | None = None
    ) -> EndpointInfo:
        """Asynchronous readings of one signal of a device during a scan."""
        return _ep(
            f"info/devices/async_signal/{_sub(scan_id)}/{_sub(device)}/{_sub(signal)}",
            messages.DeviceMessage,
            MessageOp.STREAM,
        )

    @staticmethod
    def device_preview(device: str | None = None, signal: str | None = None) -> EndpointInfo:
        """Preview frames of a device signal."""
        return _ep(
            f"info/devices/preview/{_sub(device)}/{_sub(signal)}",
            messages.DevicePreviewMessage,
            MessageOp.STREAM,
        )

    @staticmethod
    def device_instructions() -> EndpointInfo:
        """Instructions for the device server (ours: a STREAM read by a consumer group, acknowledged)."""
        return _ep("internal/devices/instructions", messages.DeviceInstructionMessage, MessageOp.STREAM)

    @staticmethod
    def device_instructions_response() -> EndpointInfo:
        """Device server replies to instructions."""
        return _ep(
            "internal/devices/instructions_response", messages.DeviceInstructionResponse, MessageOp.SEND
        )

    @staticmethod
    def device_rpc(rpc_id: str | None = None) -> EndpointInfo:
        """Result of a remote procedure call on a device (polled by the client)."""
        return _ep(f"info/devices/rpc/{_sub(rpc_id)}", messages.DeviceRPCMessage, MessageOp.KEY_VALUE)

    # ------------------------------------------------------------------ queue
    @staticmethod
    def scan_queue_modification() -> EndpointInfo:
        """Accepted queue modifications, forwarded inside the scan server."""
        return _ep("info/queue/queue_modification", messages.ScanQueueModificationMessage, MessageOp.SEND)

    @staticmethod
    def scan_queue_modification_request() -> EndpointInfo:
        """Requests from users to pause, abort, halt, ... the queue."""
        return _ep(
            "user/queue/queue_modification_request", messages.ScanQueueModificationMessage, MessageOp.SEND
        )

    @staticmethod
    def scan_restart() -> EndpointInfo:
        """Announcements of restarted scans."""
        return _ep("info/queue/scan_restart", messages.ScanRestartMessage, MessageOp.SEND)

    @staticmethod
    def scan_queue_order_change_request() -> EndpointInfo:
        """Requests from users to reorder the queue."""
        return _ep("user/queue/queue_order_change_request", messages.ScanQueueOrderMessage, MessageOp.SEND)

    @staticmethod
    def scan_queue_order_change_response() -> EndpointInfo:
        """Replies to queue reorder requests."""
        return _ep("info/queue/queue_order_change_response", messages.RequestResponseMessage, MessageOp.SEND)

    @staticmethod
    def scan_queue_order_change() -> EndpointInfo:
        """Accepted queue reorderings."""
        return _ep("info/queue/queue_order_change", messages.ScanQueueOrderMessage, MessageOp.SEND)

    @staticmethod
    def scan_queue_insert() -> EndpointInfo:
        """Scan requests inserted into the queue after validation."""
        return _ep("info/queue/queue_insert", messages.ScanQueueMessage, MessageOp.SEND)

    @staticmethod
    def scan_queue_request(username: str | None = None) -> EndpointInfo:
        """Scan requests of one user (per-user channel; the default Redis user is "default")."""
        return _ep(
            f"personal/{_sub(username)}/queue/queue_request", messages.ScanQueueMessage, MessageOp.SEND
        )

    @staticmethod
    def scan_queue_request_response() -> EndpointInfo:
        """Acceptance or rejection of scan requests."""
        return _ep("info/queue/queue_request_response", messages.RequestResponseMessage, MessageOp.SEND)

    @staticmethod
    def stop_devices() -> EndpointInfo:
        """Requests to stop devices."""
        return _ep("user/queue/stop_devices", messages.VariableMessage, MessageOp.SEND)

    @staticmethod
    def scan_queue_status() -> EndpointInfo:
        """Status of every queue."""
        return _ep("info/queue/queue_status", messages.ScanQueueStatusMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def scan_queue_history() -> EndpointInfo:
        """Finished queue entries, newest first."""
        return _ep("info/queue/queue_history", messages.ScanQueueHistoryMessage, MessageOp.LIST)

    @staticmethod
    def scan_queue_schedule(schedule_name: str | None = None) -> EndpointInfo:
        """A named schedule of scan requests."""
        return _ep(
            f"user/queue/queue_schedule/{_sub(schedule_name)}", messages.ScanQueueMessage, MessageOp.LIST
        )

    @staticmethod
    def pre_scan_macros() -> EndpointInfo:
        """Macros run before every scan."""
        return _ep("admin/pre_scan_macros", messages.VariableMessage, MessageOp.LIST)

    # ------------------------------------------------------------------ scans
    @staticmethod
    def scan_number() -> EndpointInfo:
        """The current scan number."""
        return _ep("user/scan_number", messages.VariableMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def dataset_number() -> EndpointInfo:
        """The current dataset number."""
        return _ep("user/dataset_number", messages.VariableMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def scan_status() -> EndpointInfo:
        """Status of the current or last scan."""
        return _ep("info/scans/scan_status", messages.ScanStatusMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def scan_progress() -> EndpointInfo:
        """Progress of the current scan."""
        return _ep("info/scans/scan_progress", messages.ProgressMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def scan_history() -> EndpointInfo:
        """Summaries of finished scans."""
        return _ep("info/scans/scan_history", messages.ScanHistoryMessage, MessageOp.STREAM)

    @staticmethod
    def available_scans() -> EndpointInfo:
        """The scans the scan server offers, with their signatures."""
        return _ep("info/scans/available_scans", messages.AvailableResourceMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def scan_segment() -> EndpointInfo:
        """Scan points as they are read (a ScanMessage or a BundleMessage of them)."""
        return _ep("info/scans/scan_segment", messages.ScanMessage, MessageOp.SEND)

    @staticmethod
    def scan_baseline() -> EndpointInfo:
        """Baseline readings of the current scan."""
        return _ep("info/scans/scan_baseline", messages.ScanBaselineMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def public_scan_info(scan_id: str | None = None) -> EndpointInfo:
        """Stored status of one scan."""
        return _ep(f"info/public/{_sub(scan_id)}/scan_info", messages.ScanStatusMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def public_scan_segment(scan_id: str | None = None, point_id: int | None = None) -> EndpointInfo:
        """Stored readings of one point of one scan."""
        return _ep(
            f"info/public/{_sub(scan_id)}/scan_segment/{_sub(point_id)}",
            messages.ScanMessage,
            MessageOp.KEY_VALUE,
        )

    @staticmethod
    def public_scan_baseline(scan_id: str | None = None) -> EndpointInfo:
        """Stored baseline readings of one scan."""
        return _ep(
            f"info/public/{_sub(scan_id)}/scan_baseline", messages.ScanBaselineMessage, MessageOp.KEY_VALUE
        )

    # ------------------------------------------------------------------ files
    @staticmethod
    def public_file(scan_id: str | None = None, name: str | None = None) -> EndpointInfo:
        """Status of a file written for a scan."""
        return _ep(
            f"info/public/{_sub(scan_id)}/file/{_sub(name)}", messages.FileMessage, MessageOp.SET_PUBLISH
        )

    @staticmethod
    def file_event(name: str | None = None) -> EndpointInfo:
        """File events of a device."""
        return _ep(f"info/public/file_event/{_sub(name)}", messages.FileMessage, MessageOp.SET_PUBLISH)

    # ------------------------------------------------------------------ logs, alarms, client notices
    @staticmethod
    def log() -> EndpointInfo:
        """Log records of every service."""
        return _ep("user/log", messages.LogMessage, MessageOp.STREAM)

    @staticmethod
    def client_info() -> EndpointInfo:
        """Notices for the user's console."""
        return _ep("user/client_info", messages.ClientInfoMessage, MessageOp.STREAM)

    @staticmethod
    def client_restart() -> EndpointInfo:
        """Requests for the clients to restart."""
        return _ep("info/client_restart", messages.ClientRestartMessage, MessageOp.SEND)

    @staticmethod
    def alarm() -> EndpointInfo:
        """Alarms raised by services."""
        return _ep("user/alarms", messages.AlarmMessage, MessageOp.SET_PUBLISH)

    # ------------------------------------------------------------------ services
    @staticmethod
    def service_status(service_id: str | None = None) -> EndpointInfo:
        """Heartbeat of a service (written with an expiry, refreshed periodically)."""
        return _ep(f"user/services/status/{_sub(service_id)}", messages.StatusMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def metrics(service_id: str | None = None) -> EndpointInfo:
        """Metrics of a service."""
        return _ep(
            f"user/services/metrics/{_sub(service_id)}", messages.ServiceMetricMessage, MessageOp.SET_PUBLISH
        )

    @staticmethod
    def service_response(RID: str | None = None) -> EndpointInfo:
        """Replies of services to one request (polled by the client)."""
        return _ep(f"user/services/response/{_sub(RID)}", messages.ServiceResponseMessage, MessageOp.LIST)

    @staticmethod
    def service_request() -> EndpointInfo:
        """Requests to services (restart, reload scans)."""
        return _ep("user/services/request", messages.ServiceRequestMessage, MessageOp.SEND)

    @staticmethod
    def dynamic_metric(group_name: str | None = None) -> EndpointInfo:
        """A group of dynamic metrics."""
        return _ep(
            f"user/dynamic_metrics/{_sub(group_name)}", messages.DynamicMetricMessage, MessageOp.SET_PUBLISH
        )

    @staticmethod
    def endpoint_info() -> EndpointInfo:
        """Description of the available endpoints."""
        return _ep("public/endpoints", messages.AvailableResourceMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def login_info() -> EndpointInfo:
        """Public login information."""
        return _ep("public/acl/login_info", messages.LoginInfoMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def acl_accounts() -> EndpointInfo:
        """The ACL accounts with their permissions (readable by admins only)."""
        return _ep("admin/acl/accounts", messages.ACLAccountsMessage, MessageOp.KEY_VALUE)

    # ------------------------------------------------------------------ messaging services, notifications
    @staticmethod
    def message_service_queue() -> EndpointInfo:
        """Messages for SciLog, Teams or Signal, written by clients, delivered by SciHub."""
        return _ep("internal/message_service/queue", messages.MessagingServiceMessage, MessageOp.STREAM)

    @staticmethod
    def available_messaging_services() -> EndpointInfo:
        """Which messaging services clients may send to (the newest entry counts)."""
        return _ep(
            "info/messaging_services/available_messaging_services",
            messages.AvailableMessagingServicesMessage,
            MessageOp.STREAM,
        )

    @staticmethod
    def notification(event_type: str | None = None) -> EndpointInfo:
        """Notification events (``new_scan``, ``alarm_major``, ...) that SciHub routes."""
        return _ep(
            f"internal/messaging_services/notification/{_sub(event_type)}",
            messages.NotificationMessage,
            MessageOp.SEND,
        )

    @staticmethod
    def notification_config() -> EndpointInfo:
        """Routing of notification events to messaging services."""
        return _ep(
            "user/messaging_services/notification_config",
            messages.NotificationConfigMessage,
            MessageOp.SET_PUBLISH,
        )

    # ------------------------------------------------------------------ user variables and progress
    @staticmethod
    def global_vars(var_name: str | None = None) -> EndpointInfo:
        """A global variable."""
        return _ep(f"user/vars/{_sub(var_name)}", messages.VariableMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def observer() -> EndpointInfo:
        """Observer definitions."""
        return _ep("user/observer", messages.ObserverMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def progress(var_name: str | None = None) -> EndpointInfo:
        """Progress of a named task."""
        return _ep(f"user/progress/{_sub(var_name)}", messages.ProgressMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def account() -> EndpointInfo:
        """The active account (e-account), used for file paths."""
        return _ep("info/account", messages.VariableMessage, MessageOp.STREAM)

    # ------------------------------------------------------------------ data processing
    @staticmethod
    def processed_data(process_id: str | None = None) -> EndpointInfo:
        """Output of a processing service."""
        return _ep(f"user/processed_data/{_sub(process_id)}", messages.ProcessedDataMessage, MessageOp.STREAM)

    @staticmethod
    def dap_config() -> EndpointInfo:
        """Configuration of the data processing service."""
        return _ep("user/dap/config", messages.DAPConfigMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def dap_available_plugins(plugin_id: str | None = None) -> EndpointInfo:
        """The plugins (fit models) a data processing service offers, by service name."""
        key = f"user/dap/available_plugins/{_sub(plugin_id)}"
        return _ep(key, messages.AvailableResourceMessage, MessageOp.KEY_VALUE)

    @staticmethod
    def dap_request() -> EndpointInfo:
        """Requests to data processing plugins."""
        return _ep("user/dap/request", messages.DAPRequestMessage, MessageOp.SET_PUBLISH)

    @staticmethod
    def dap_response(RID: str | None = None) -> EndpointInfo:
        """Result of one data processing request."""
        return _ep(f"user/dap/response/{_sub(RID)}", messages.DAPResponseMessage, MessageOp.SET_PUBLISH)

    # ------------------------------------------------------------------ beamline states, built-in actors
    @staticmethod
    def beamline_state(state_name: str | None = None) -> EndpointInfo:
        """The current value of one beamline state (a stream of length one)."""
        return _ep(f"user/beamline_state/{_sub(state_name)}", messages.BeamlineStateMessage, MessageOp.STREAM)

    @staticmethod
    def available_beamline_states() -> EndpointInfo:
        """The configured beamline states, published by clients (a stream of length one)."""
        return _ep(
            "user/available_beamline_states", messages.AvailableBeamlineStatesMessage, MessageOp.STREAM
        )

    @staticmethod
    def builtin_actor_update_notif(actor_name: str | None = None) -> EndpointInfo:
        """Tells clients a built-in actor finished changing its state."""
        return _ep(
            f"info/actor/builtin/{_sub(actor_name)}/state_change_done",
            messages.BuiltinActorStateUpdatedNotification,
            MessageOp.SEND,
        )

    @staticmethod
    def modify_interlock_table() -> EndpointInfo:
        """Requests to change the states the scan interlock watches."""
        return _ep(
            "user/actor/builtin/scan_interlock/table_mod",
            messages.ScanInterlockModifyStateTableMessage,
            MessageOp.STREAM,
        )

    @staticmethod
    def scan_interlock_states() -> EndpointInfo:
        """The states the scan interlock watches, with their accepted statuses."""
        return _ep(
            "info/actor/builtin/scan_interlock/current_states_watched",
            messages.ScanInterlockStateTableContent,
            MessageOp.KEY_VALUE,
        )

    @staticmethod
    def scan_interlock_enabled() -> EndpointInfo:
        """Managed setting: whether the scan interlock is enabled (entries ``{"config": msg}``)."""
        return _ep(
            "user/actor/builtin/scan_interlock/config/enabled",
            messages.BoolConfigDefaultFalse,
            MessageOp.STREAM,
        )

    @staticmethod
    def scan_interlock_trigger_setting() -> EndpointInfo:
        """Managed setting: what the scan interlock does to a running scan when it triggers."""
        return _ep(
            "user/actor/builtin/scan_interlock/config/trigger_setting",
            messages.ScanInterlockTriggerSettingMessage,
            MessageOp.STREAM,
        )
