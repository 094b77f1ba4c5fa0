"""Every BEC 4.x message class bec-core speaks, with the helper models and enums.

Class names, field names, field order, types and defaults follow
``bec_lib.messages`` 4.3.2; the wire carries the class name, so they must match.
All classes present themselves as ``bec_core.messages.<Name>`` whatever
sub-module defines them.
"""

from __future__ import annotations

from bec_core.messages.base import (
    ENUMS,
    HELPER_MODELS,
    MESSAGE_CLASSES,
    BECMessage,
    register_enum,
    register_helper_model,
    values_equal,
)
from bec_core.messages.beamline import (
    AvailableBeamlineStatesMessage,
    BeamlineStateConfig,
    BeamlineStateMessage,
    BlStateStatus,
    BoolConfigDefaultFalse,
    BuiltinActorStateUpdatedNotification,
    InterlockTargetState,
    ScanInterlockModifyStateTableMessage,
    ScanInterlockStateTableContent,
    ScanInterlockTriggerSetting,
    ScanInterlockTriggerSettingMessage,
)
from bec_core.messages.device import (
    ConfigAction,
    DeviceConfigMessage,
    DeviceInfoMessage,
    DeviceInitializationProgressMessage,
    DeviceInstructionAction,
    DeviceInstructionMessage,
    DeviceInstructionResponse,
    DeviceMessage,
    DevicePreviewMessage,
    DeviceReqStatusMessage,
    DeviceRPCMessage,
    DeviceStatusMessage,
)
from bec_core.messages.helpers import (
    BECStatus,
    DeviceAsyncUpdate,
    ErrorInfo,
    ServiceInfo,
    ServiceVersions,
)
from bec_core.messages.misc import (
    AvailableResourceMessage,
    BundleMessage,
    DAPConfigMessage,
    DAPRequestMessage,
    DAPResponseMessage,
    FileContentMessage,
    FileMessage,
    ObserverMessage,
    ProcessedDataMessage,
    ProgressMessage,
    RawMessage,
    VariableMessage,
)
from bec_core.messages.queue import (
    QueueInfoEntry,
    RequestBlock,
    RequestResponseMessage,
    ScanQueueHistoryMessage,
    ScanQueueLock,
    ScanQueueMessage,
    ScanQueueModificationMessage,
    ScanQueueOrderMessage,
    ScanQueueStatus,
    ScanQueueStatusMessage,
    ScanRestartMessage,
)
from bec_core.messages.scan import (
    ScanBaselineMessage,
    ScanDeviceInfoMessage,
    ScanHistoryMessage,
    ScanMessage,
    ScanStatusMessage,
)
from bec_core.messages.service import (
    AlarmMessage,
    ClientInfoMessage,
    ClientRestartMessage,
    CredentialsMessage,
    DynamicMetricMessage,
    LoginInfoMessage,
    LogMessage,
    ServiceMetricMessage,
    ServiceRequestMessage,
    ServiceResponseMessage,
    StatusMessage,
)


def _present_as_package_members() -> None:
    """Make every class of this package report ``bec_core.messages`` as its module."""
    classes = [BECMessage, *MESSAGE_CLASSES.values(), *HELPER_MODELS.values(), *ENUMS.values()]
    for cls in classes:
        if cls.__module__.startswith(__name__):
            cls.__module__ = __name__


_present_as_package_members()

__all__ = [
    "ENUMS",
    "HELPER_MODELS",
    "MESSAGE_CLASSES",
    "AlarmMessage",
    "AvailableBeamlineStatesMessage",
    "AvailableResourceMessage",
    "BECMessage",
    "BECStatus",
    "BeamlineStateConfig",
    "BeamlineStateMessage",
    "BlStateStatus",
    "BoolConfigDefaultFalse",
    "BuiltinActorStateUpdatedNotification",
    "BundleMessage",
    "ClientInfoMessage",
    "ClientRestartMessage",
    "ConfigAction",
    "CredentialsMessage",
    "DAPConfigMessage",
    "DAPRequestMessage",
    "DAPResponseMessage",
    "DeviceAsyncUpdate",
    "DeviceConfigMessage",
    "DeviceInfoMessage",
    "DeviceInitializationProgressMessage",
    "DeviceInstructionAction",
    "DeviceInstructionMessage",
    "DeviceInstructionResponse",
    "DeviceMessage",
    "DevicePreviewMessage",
    "DeviceRPCMessage",
    "DeviceReqStatusMessage",
    "DeviceStatusMessage",
    "DynamicMetricMessage",
    "ErrorInfo",
    "FileContentMessage",
    "FileMessage",
    "InterlockTargetState",
    "LogMessage",
    "LoginInfoMessage",
    "ObserverMessage",
    "ProcessedDataMessage",
    "ProgressMessage",
    "QueueInfoEntry",
    "RawMessage",
    "RequestBlock",
    "RequestResponseMessage",
    "ScanBaselineMessage",
    "ScanDeviceInfoMessage",
    "ScanHistoryMessage",
    "ScanInterlockModifyStateTableMessage",
    "ScanInterlockStateTableContent",
    "ScanInterlockTriggerSetting",
    "ScanInterlockTriggerSettingMessage",
    "ScanMessage",
    "ScanQueueHistoryMessage",
    "ScanQueueLock",
    "ScanQueueMessage",
    "ScanQueueModificationMessage",
    "ScanQueueOrderMessage",
    "ScanQueueStatus",
    "ScanQueueStatusMessage",
    "ScanRestartMessage",
    "ScanStatusMessage",
    "ServiceInfo",
    "ServiceMetricMessage",
    "ServiceRequestMessage",
    "ServiceResponseMessage",
    "ServiceVersions",
    "StatusMessage",
    "VariableMessage",
    "register_enum",
    "register_helper_model",
    "values_equal",
]
