"""Endpoints: key strings, message types and operations exactly as BEC 4.x (PROTOCOL.md section 4)."""

from __future__ import annotations

import inspect

import pytest

from bec_core import messages
from bec_core.endpoints import EndpointInfo, MessageEndpoints, MessageOp

SP = MessageOp.SET_PUBLISH
SEND = MessageOp.SEND
STREAM = MessageOp.STREAM
LIST = MessageOp.LIST
KV = MessageOp.KEY_VALUE

# method, arguments, key, message class name, op
ENDPOINTS: list[tuple[str, tuple, str, str, MessageOp]] = [
    # devices
    ("device_status", ("samx",), "info/devices/status/samx", "DeviceStatusMessage", KV),
    ("device_read", ("samx",), "info/devices/read/samx", "DeviceMessage", SP),
    (
        "device_read_configuration",
        ("samx",),
        "info/devices/read_configuration/samx",
        "DeviceMessage",
        SP,
    ),
    ("device_readback", ("samx",), "info/devices/readback/samx", "DeviceMessage", SP),
    ("device_raw", ("samx",), "info/devices/raw/samx", "DeviceMessage", STREAM),
    ("device_limits", ("samx",), "info/devices/limits/samx", "DeviceMessage", SP),
    ("device_req_status", ("r1",), "info/devices/req_status/r1", "DeviceReqStatusMessage", STREAM),
    ("device_progress", ("samx",), "info/devices/progress/samx", "ProgressMessage", SP),
    ("device_config_request", (), "user/devices/config_request", "DeviceConfigMessage", SEND),
    (
        "device_config_request_response",
        ("rid",),
        "info/devices/config_request_response/rid",
        "RequestResponseMessage",
        KV,
    ),
    (
        "device_server_config_request",
        (),
        "internal/devices/device_server_config_update",
        "DeviceConfigMessage",
        SEND,
    ),
    ("device_config_update", (), "info/devices/config_update", "DeviceConfigMessage", SEND),
    ("device_config", (), "info/devices/config", "AvailableResourceMessage", KV),
    ("device_config_history", (), "info/devices/config_history", "AvailableResourceMessage", LIST),
    (
        "device_initialization_progress",
        (),
        "info/devices/initialization_progress",
        "DeviceInitializationProgressMessage",
        SP,
    ),
    ("device_info", ("samx",), "info/devices/info/samx", "DeviceInfoMessage", KV),
    ("scan_device_info", (), "info/scan_device_info", "ScanDeviceInfoMessage", STREAM),
    ("device_staged", ("samx",), "info/devices/staged/samx", "DeviceStatusMessage", KV),
    (
        "device_async_readback",
        ("s1", "eiger"),
        "info/devices/async_readback/s1/eiger",
        "DeviceMessage",
        STREAM,
    ),
    (
        "device_async_signal",
        ("s1", "eiger", "img"),
        "info/devices/async_signal/s1/eiger/img",
        "DeviceMessage",
        STREAM,
    ),
    (
        "device_preview",
        ("eiger", "img"),
        "info/devices/preview/eiger/img",
        "DevicePreviewMessage",
        STREAM,
    ),
    # ours: a stream (consumer group, acknowledged); BEC 4.x: SEND
    ("device_instructions", (), "internal/devices/instructions", "DeviceInstructionMessage", STREAM),
    (
        "device_instructions_response",
        (),
        "internal/devices/instructions_response",
        "DeviceInstructionResponse",
        SEND,
    ),
    ("device_rpc", ("rpc1",), "info/devices/rpc/rpc1", "DeviceRPCMessage", KV),
    # queue
    ("scan_queue_modification", (), "info/queue/queue_modification", "ScanQueueModificationMessage", SEND),
    (
        "scan_queue_modification_request",
        (),
        "user/queue/queue_modification_request",
        "ScanQueueModificationMessage",
        SEND,
    ),
    ("scan_restart", (), "info/queue/scan_restart", "ScanRestartMessage", SEND),
    (
        "scan_queue_order_change_request",
        (),
        "user/queue/queue_order_change_request",
        "ScanQueueOrderMessage",
        SEND,
    ),
    (
        "scan_queue_order_change_response",
        (),
        "info/queue/queue_order_change_response",
        "RequestResponseMessage",
        SEND,
    ),
    ("scan_queue_order_change", (), "info/queue/queue_order_change", "ScanQueueOrderMessage", SEND),
    ("scan_queue_insert", (), "info/queue/queue_insert", "ScanQueueMessage", SEND),
    (
        "scan_queue_request",
        ("default",),
        "personal/default/queue/queue_request",
        "ScanQueueMessage",
        SEND,
    ),
    (
        "scan_queue_request_response",
        (),
        "info/queue/queue_request_response",
        "RequestResponseMessage",
        SEND,
    ),
    ("stop_devices", (), "user/queue/stop_devices", "VariableMessage", SEND),
    ("scan_queue_status", (), "info/queue/queue_status", "ScanQueueStatusMessage", SP),
    ("scan_queue_history", (), "info/queue/queue_history", "ScanQueueHistoryMessage", LIST),
    ("scan_queue_schedule", ("night",), "user/queue/queue_schedule/night", "ScanQueueMessage", LIST),
    ("pre_scan_macros", (), "admin/pre_scan_macros", "VariableMessage", LIST),
    # scans
    ("scan_number", (), "user/scan_number", "VariableMessage", KV),
    ("dataset_number", (), "user/dataset_number", "VariableMessage", KV),
    ("scan_status", (), "info/scans/scan_status", "ScanStatusMessage", SP),
    ("scan_progress", (), "info/scans/scan_progress", "ProgressMessage", SP),
    ("scan_history", (), "info/scans/scan_history", "ScanHistoryMessage", STREAM),
    ("available_scans", (), "info/scans/available_scans", "AvailableResourceMessage", SP),
    ("scan_segment", (), "info/scans/scan_segment", "ScanMessage", SEND),
    ("scan_baseline", (), "info/scans/scan_baseline", "ScanBaselineMessage", SP),
    ("public_scan_info", ("s1",), "info/public/s1/scan_info", "ScanStatusMessage", KV),
    ("public_scan_segment", ("s1", 3), "info/public/s1/scan_segment/3", "ScanMessage", KV),
    ("public_scan_baseline", ("s1",), "info/public/s1/scan_baseline", "ScanBaselineMessage", KV),
    # files
    ("public_file", ("s1", "master"), "info/public/s1/file/master", "FileMessage", SP),
    ("file_event", ("eiger",), "info/public/file_event/eiger", "FileMessage", SP),
    # logs, alarms, client notices
    ("log", (), "user/log", "LogMessage", STREAM),
    ("client_info", (), "user/client_info", "ClientInfoMessage", STREAM),
    ("client_restart", (), "info/client_restart", "ClientRestartMessage", SEND),
    ("alarm", (), "user/alarms", "AlarmMessage", SP),
    # services
    ("service_status", ("svc",), "user/services/status/svc", "StatusMessage", SP),
    ("metrics", ("svc",), "user/services/metrics/svc", "ServiceMetricMessage", SP),
    ("service_response", ("rid",), "user/services/response/rid", "ServiceResponseMessage", LIST),
    ("service_request", (), "user/services/request", "ServiceRequestMessage", SEND),
    ("dynamic_metric", ("grp",), "user/dynamic_metrics/grp", "DynamicMetricMessage", SP),
    ("endpoint_info", (), "public/endpoints", "AvailableResourceMessage", KV),
    ("login_info", (), "public/acl/login_info", "LoginInfoMessage", KV),
    ("acl_accounts", (), "admin/acl/accounts", "ACLAccountsMessage", KV),
    # messaging services, notifications
    ("message_service_queue", (), "internal/message_service/queue", "MessagingServiceMessage", STREAM),
    (
        "available_messaging_services",
        (),
        "info/messaging_services/available_messaging_services",
        "AvailableMessagingServicesMessage",
        STREAM,
    ),
    (
        "notification",
        ("new_scan",),
        "internal/messaging_services/notification/new_scan",
        "NotificationMessage",
        SEND,
    ),
    (
        "notification_config",
        (),
        "user/messaging_services/notification_config",
        "NotificationConfigMessage",
        SP,
    ),
    # user variables and progress
    ("global_vars", ("v",), "user/vars/v", "VariableMessage", KV),
    ("observer", (), "user/observer", "ObserverMessage", KV),
    ("progress", ("task",), "user/progress/task", "ProgressMessage", SP),
    ("account", (), "info/account", "VariableMessage", STREAM),
    # data processing
    ("processed_data", ("p1",), "user/processed_data/p1", "ProcessedDataMessage", STREAM),
    ("dap_config", (), "user/dap/config", "DAPConfigMessage", SP),
    (
        "dap_available_plugins",
        ("DAPServer/LmfitService1D",),
        "user/dap/available_plugins/DAPServer/LmfitService1D",
        "AvailableResourceMessage",
        KV,
    ),
    ("dap_request", (), "user/dap/request", "DAPRequestMessage", SP),
    ("dap_response", ("rid",), "user/dap/response/rid", "DAPResponseMessage", SP),
    # beamline states, built-in actors
    ("beamline_state", ("s1",), "user/beamline_state/s1", "BeamlineStateMessage", STREAM),
    ("available_beamline_states", (), "user/available_beamline_states", "AvailableBeamlineStatesMessage", STREAM),
    (
        "builtin_actor_update_notif",
        ("ScanInterlockActor",),
        "info/actor/builtin/ScanInterlockActor/state_change_done",
        "BuiltinActorStateUpdatedNotification",
        SEND,
    ),
    (
        "modify_interlock_table",
        (),
        "user/actor/builtin/scan_interlock/table_mod",
        "ScanInterlockModifyStateTableMessage",
        STREAM,
    ),
    (
        "scan_interlock_states",
        (),
        "info/actor/builtin/scan_interlock/current_states_watched",
        "ScanInterlockStateTableContent",
        KV,
    ),
    (
        "scan_interlock_enabled",
        (),
        "user/actor/builtin/scan_interlock/config/enabled",
        "BoolConfigDefaultFalse",
        STREAM,
    ),
    (
        "scan_interlock_trigger_setting",
        (),
        "user/actor/builtin/scan_interlock/config/trigger_setting",
        "ScanInterlockTriggerSettingMessage",
        STREAM,
    ),
]

PUBLIC_METHODS = sorted(name for name, _ in inspect.getmembers(MessageEndpoints, inspect.isfunction))


@pytest.mark.parametrize(
    ("method", "args", "key", "type_name", "op"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_endpoint(method: str, args: tuple, key: str, type_name: str, op: MessageOp) -> None:
    info = getattr(MessageEndpoints, method)(*args)
    assert isinstance(info, EndpointInfo)
    assert info.endpoint == key
    assert str(info) == key
    assert info.message_type is getattr(messages, type_name)
    assert info.message_op is op
    assert not info.is_pattern


def test_table_covers_every_endpoint() -> None:
    assert sorted(e[0] for e in ENDPOINTS) == PUBLIC_METHODS
    assert len(ENDPOINTS) == len({e[0] for e in ENDPOINTS})


def test_protocol_section_4_endpoints_present() -> None:
    required = {
        "scan_status", "scan_number", "dataset_number", "scan_segment", "scan_baseline", "scan_progress",
        "scan_history", "available_scans", "public_scan_info", "public_scan_segment",
        "public_scan_baseline", "public_file", "device_read", "device_read_configuration",
        "device_readback", "device_limits", "device_info", "device_config", "device_config_request",
        "device_config_request_response", "device_config_update", "device_req_status", "device_rpc",
        "device_staged", "device_status", "device_progress", "scan_queue_request",
        "scan_queue_request_response", "scan_queue_modification_request",
        "scan_queue_order_change_request", "scan_queue_status", "scan_queue_history", "stop_devices",
        "service_status", "service_response", "alarm", "log", "client_info", "global_vars",
    }  # fmt: skip
    assert required <= set(PUBLIC_METHODS)


def test_seed_reprs() -> None:
    info = MessageEndpoints.scan_status()
    assert (
        repr(info.message_op)
        == "<MessageOp.SET_PUBLISH: ['register', 'set_and_publish', 'delete', 'get', 'keys']>"
    )
    assert repr(info.message_type) == "<class 'bec_core.messages.ScanStatusMessage'>"
    assert str(info.message_op) == "MessageOp.SET_PUBLISH"


@pytest.mark.parametrize(
    ("method", "args"),
    [(e[0], e[1]) for e in ENDPOINTS if e[1]],
    ids=[e[0] for e in ENDPOINTS if e[1]],
)
def test_pattern_without_names(method: str, args: tuple) -> None:
    fn = getattr(MessageEndpoints, method)
    params = inspect.signature(fn).parameters
    assert len(params) == len(args)
    assert all(p.default is None for p in params.values())
    tokens = [f"TOKEN{i}" for i in range(len(args))]
    full = fn(*tokens)
    pattern = fn()
    assert pattern.is_pattern
    expected = full.endpoint
    for token in tokens:
        expected = expected.replace(token, "*")
    assert pattern.endpoint == expected
    assert pattern.endpoint.count("*") == len(args)
    assert pattern.message_type is full.message_type
    assert pattern.message_op is full.message_op


def test_pattern_partial() -> None:
    assert MessageEndpoints.device_read().endpoint == "info/devices/read/*"
    assert MessageEndpoints.public_scan_segment("s1").endpoint == "info/public/s1/scan_segment/*"
    assert MessageEndpoints.device_async_signal("s1", None, "img").endpoint == (
        "info/devices/async_signal/s1/*/img"
    )
    assert MessageEndpoints.public_scan_segment("s1", 0).endpoint == "info/public/s1/scan_segment/0"


def test_allows() -> None:
    info = MessageEndpoints.device_instructions()
    assert info.allows("xadd") and info.allows("register_stream")
    assert not info.allows("send")
    assert MessageEndpoints.scan_segment().allows("send")
    assert not MessageEndpoints.scan_segment().allows("set_and_publish")
    assert MessageEndpoints.scan_number().allows("set")
    assert not MessageEndpoints.scan_number().allows("register")


def test_endpoint_info_is_frozen_and_hashable() -> None:
    a = MessageEndpoints.device_read("samx")
    b = MessageEndpoints.device_read("samx")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.endpoint = "x"  # type: ignore[misc]


def test_every_endpoint_type_is_a_registered_message() -> None:
    for method, args, *_ in ENDPOINTS:
        info = getattr(MessageEndpoints, method)(*args)
        assert messages.MESSAGE_CLASSES[info.message_type.__name__] is info.message_type
