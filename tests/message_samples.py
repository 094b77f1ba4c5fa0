"""Valid sample field values for every message class, shared by the message and codec tests."""

from __future__ import annotations

from typing import Any

import numpy as np

ERROR_INFO = {"error_message": "boom", "compact_error_message": "boom", "exception_type": "ValueError"}
INSTRUCTION = {"device": "samx", "action": "set", "parameter": {"value": 1}}
REQUEST_BLOCK = {
    "msg": {"scan_type": "line_scan", "parameter": {"args": {"samx": [-5, 5]}, "kwargs": {}}},
    "RID": "rid-1",
    "readout_priority": {"monitored": ["samx"], "baseline": []},
    "is_scan": True,
    "scan_number": 4,
    "scan_id": "scan-1",
}
QUEUE_INFO = {
    "queue_id": "q-1",
    "scan_id": ["scan-1"],
    "is_scan": [True],
    "request_blocks": [REQUEST_BLOCK],
    "scan_number": [4],
    "status": "RUNNING",
}

#: The required fields of every message class, with valid values.
REQUIRED: dict[str, dict[str, Any]] = {
    "ACLAccountsMessage": {"accounts": {"user": {"categories": ["+@all"], "profile": "user_write"}}},
    "AvailableMessagingServicesMessage": {
        "config": {
            "signal": {"enabled": False},
            "teams": {"enabled": False},
            "scilog": {"enabled": True, "default": "local"},
        }
    },
    "MessagingServiceMessage": {"service_name": "scilog", "message": [{"content": "hello"}]},
    "NotificationConfigMessage": {},
    "NotificationMessage": {"event": "new_scan", "message": [{"content": "scan 1 started"}]},
    "AvailableBeamlineStatesMessage": {"states": [{"name": "s1", "state_type": "DeviceWithinLimitsState"}]},
    "BeamlineStateMessage": {"name": "s1", "status": "valid", "label": "ok"},
    "BoolConfigDefaultFalse": {},
    "BuiltinActorStateUpdatedNotification": {"actor_name": "ScanInterlockActor"},
    "ScanInterlockModifyStateTableMessage": {"action": "remove_all"},
    "ScanInterlockStateTableContent": {"states_watched": {"s1": ["valid"]}},
    "ScanInterlockTriggerSettingMessage": {},
    "AlarmMessage": {"severity": 2, "info": ERROR_INFO},
    "AvailableResourceMessage": {"resource": {"samx": {}}},
    "BundleMessage": {},
    "ClientInfoMessage": {"message": "hello"},
    "ClientRestartMessage": {},
    "CredentialsMessage": {"credentials": {"user": "u"}},
    "DAPConfigMessage": {"config": {}},
    "DAPRequestMessage": {"dap_cls": "GaussianModel", "dap_type": "on_demand", "config": {}},
    "DAPResponseMessage": {"success": True},
    "DeviceConfigMessage": {},
    "DeviceInfoMessage": {"device": "samx", "info": {"device_info": {}}},
    "DeviceInitializationProgressMessage": {
        "device": "samx",
        "finished": True,
        "success": True,
        "index": 1,
        "total": 2,
    },
    "DeviceInstructionMessage": INSTRUCTION,
    "DeviceInstructionResponse": {
        "device": "samx",
        "status": "completed",
        "instruction": INSTRUCTION,
        "instruction_id": "i-1",
    },
    "DeviceMessage": {"signals": {"samx": {"value": 1.0, "timestamp": 1.0}}},
    "DevicePreviewMessage": {"device": "eiger", "signal": "img", "data": np.zeros((2, 2))},
    "DeviceRPCMessage": {"device": "samx", "return_val": 1, "out": ""},
    "DeviceReqStatusMessage": {"device": "samx", "success": True, "request_id": "r"},
    "DeviceStatusMessage": {"device": "samx", "status": 1},
    "DynamicMetricMessage": {"metrics": {"-cpu": {"value": 1, "type_name": "int"}}},
    "FileContentMessage": {"file_path": "/tmp/f.h5", "data": {}, "scan_info": {}},
    "FileMessage": {"file_path": "/tmp/f.h5", "done": True, "successful": True},
    "LogMessage": {"log_type": "info", "log_msg": "text"},
    "LoginInfoMessage": {"host": "h", "deployment": "d", "available_accounts": [], "atlas_login": False},
    "ObserverMessage": {"observer": []},
    "ProcessedDataMessage": {"data": {}},
    "ProgressMessage": {"value": 1, "max_value": 10, "done": False},
    "RawMessage": {"data": b"raw"},
    "RequestResponseMessage": {"accepted": True},
    "ScanBaselineMessage": {"scan_id": "scan-1", "data": {}},
    "ScanDeviceInfoMessage": {"scan_id": "scan-1", "devices": {}},
    "ScanHistoryMessage": {
        "scan_id": "scan-1",
        "scan_number": 4,
        "dataset_number": 1,
        "file_path": "/tmp/f.h5",
        "exit_status": "closed",
        "start_time": 1.0,
        "end_time": 2.0,
        "scan_name": "line_scan",
    },
    "ScanMessage": {"point_id": 0, "scan_id": "scan-1", "data": {}},
    "ScanQueueHistoryMessage": {"status": "COMPLETED", "queue_id": "q-1", "info": QUEUE_INFO},
    "ScanQueueMessage": {"scan_type": "line_scan", "parameter": {"args": {}, "kwargs": {}}},
    "ScanQueueModificationMessage": {"action": "pause", "parameter": {}},
    "ScanQueueOrderMessage": {"scan_id": "scan-1", "action": "move_up"},
    "ScanQueueStatusMessage": {"queue": {"primary": {"info": [QUEUE_INFO], "status": "RUNNING"}}},
    "ScanRestartMessage": {
        "original_scan_id": "scan-1",
        "scan_msg": {"scan_type": "line_scan", "parameter": {}},
    },
    "ScanStatusMessage": {"scan_id": "scan-1", "status": "open", "info": {}},
    "ServiceMetricMessage": {"name": "ScanServer", "metrics": {}},
    "ServiceRequestMessage": {"action": "restart"},
    "ServiceResponseMessage": {"response": {}},
    "StatusMessage": {"name": "ScanServer", "status": 2, "info": {"user": "u", "hostname": "h"}},
    "VariableMessage": {"value": 3},
}
