"""Message classes: construction, content, metadata, validation, equality (PROTOCOL.md section 3)."""

from __future__ import annotations

import enum

import numpy as np
import pytest
from message_samples import ERROR_INFO, INSTRUCTION, QUEUE_INFO, REQUIRED
from pydantic import BaseModel, ValidationError

from bec_core import messages
from bec_core.messages import (
    ENUMS,
    HELPER_MODELS,
    MESSAGE_CLASSES,
    AlarmMessage,
    BECMessage,
    BECStatus,
    BundleMessage,
    DeviceConfigMessage,
    DeviceInstructionMessage,
    DeviceInstructionResponse,
    DeviceMessage,
    DeviceRPCMessage,
    ErrorInfo,
    QueueInfoEntry,
    RequestBlock,
    ScanMessage,
    ScanQueueHistoryMessage,
    ScanQueueMessage,
    ScanQueueStatus,
    ScanQueueStatusMessage,
    ScanStatusMessage,
    ServiceInfo,
    ServiceVersions,
    StatusMessage,
    VariableMessage,
)

#: Classes the brief requires (PROTOCOL.md section 3, endpoint types and the extra list).
EXPECTED_CLASSES = set(REQUIRED)

ALL = sorted(MESSAGE_CLASSES)


def test_every_class_is_registered_and_covered() -> None:
    assert set(MESSAGE_CLASSES) == EXPECTED_CLASSES


def test_registries_and_package_exports() -> None:
    for name in [*MESSAGE_CLASSES, *HELPER_MODELS, *ENUMS]:
        assert name in messages.__all__
        assert getattr(messages, name).__module__ == "bec_core.messages"
    assert set(messages.__all__) <= set(dir(messages))
    assert {
        "ErrorInfo",
        "ServiceVersions",
        "ServiceInfo",
        "RequestBlock",
        "QueueInfoEntry",
        "ScanQueueLock",
        "ScanQueueStatus",
        "DeviceAsyncUpdate",
    } <= set(HELPER_MODELS)
    assert ENUMS == {"BECStatus": BECStatus}


def test_reprs_name_the_package() -> None:
    assert repr(ScanStatusMessage) == "<class 'bec_core.messages.ScanStatusMessage'>"
    assert repr(ErrorInfo) == "<class 'bec_core.messages.ErrorInfo'>"
    assert repr(BECStatus) == "<enum 'BECStatus'>"


@pytest.mark.parametrize("name", ALL)
def test_constructs_with_required_fields(name: str) -> None:
    cls = MESSAGE_CLASSES[name]
    msg = cls(**REQUIRED[name])
    assert isinstance(msg, BECMessage)
    assert msg.metadata == {}
    assert isinstance(cls.msg_type, str) and cls.msg_type
    assert cls.__doc__ and cls.__doc__.strip()


@pytest.mark.parametrize("name", ALL)
def test_content_excludes_metadata(name: str) -> None:
    cls = MESSAGE_CLASSES[name]
    msg = cls(**REQUIRED[name], metadata={"RID": "abc"})
    assert msg.metadata == {"RID": "abc"}
    assert "metadata" not in msg.content
    assert list(msg.content) == [f for f in cls.model_fields if f != "metadata"]


@pytest.mark.parametrize("name", ALL)
def test_metadata_none_becomes_empty_dict(name: str) -> None:
    msg = MESSAGE_CLASSES[name](**REQUIRED[name], metadata=None)
    assert msg.metadata == {}


@pytest.mark.parametrize("name", ALL)
def test_extra_fields_ignored(name: str) -> None:
    msg = MESSAGE_CLASSES[name](**REQUIRED[name], some_future_field=42)
    assert "some_future_field" not in msg.content
    assert not hasattr(msg, "some_future_field")


@pytest.mark.parametrize("name", ALL)
def test_missing_required_field_raises(name: str) -> None:
    cls = MESSAGE_CLASSES[name]
    required = [f for f, info in cls.model_fields.items() if info.is_required()]
    assert sorted(required) == sorted(REQUIRED[name])
    for field in required:
        kwargs = {k: v for k, v in REQUIRED[name].items() if k != field}
        with pytest.raises(ValidationError):
            cls(**kwargs)


def test_metadata_is_first_field() -> None:
    for cls in MESSAGE_CLASSES.values():
        assert next(iter(cls.model_fields)) == "metadata"


def test_scan_status_field_order_and_defaults() -> None:
    assert list(ScanStatusMessage.model_fields) == [
        "metadata",
        "scan_id",
        "status",
        "reason",
        "scan_number",
        "session_id",
        "num_points",
        "num_monitored_readouts",
        "scan_name",
        "scan_type",
        "dataset_number",
        "scan_report_devices",
        "user_metadata",
        "readout_priority",
        "scan_parameters",
        "request_inputs",
        "info",
        "timestamp",
    ]
    msg = ScanStatusMessage(scan_id=None, status="closed", info={})
    assert msg.num_monitored_readouts == 0
    assert msg.scan_parameters == {} and msg.request_inputs == {}
    assert isinstance(msg.timestamp, float)
    with pytest.raises(ValidationError):
        ScanStatusMessage(scan_id="s", status="running", info={})


def test_defaults() -> None:
    q = ScanQueueMessage(scan_type="line_scan", parameter={})
    assert (q.queue, q.allow_restart) == ("primary", True)
    f = messages.FileMessage(file_path="f", done=False, successful=False)
    assert (f.is_master_file, f.device_name, f.file_type, f.hinted_h5_entries) == (False, None, "h5", None)
    c = messages.ClientInfoMessage(message="m")
    assert (c.show_asap, c.RID, c.source, c.scope, c.severity, c.expire) == (True, None, None, None, 0, 60.0)
    assert messages.DAPResponseMessage(success=True).data == ({}, None)
    assert messages.ClientRestartMessage().reason == ""
    assert DeviceRPCMessage(device="samx", return_val=None, out="").success is True
    assert BundleMessage().messages == []


# ----------------------------------------------------------------- equality with numpy


def test_equality_numpy_equal() -> None:
    a = DeviceMessage(signals={"img": {"value": np.arange(6.0).reshape(2, 3), "timestamp": 1.0}})
    b = DeviceMessage(signals={"img": {"value": np.arange(6.0).reshape(2, 3), "timestamp": 1.0}})
    assert a == b


def test_equality_numpy_unequal_values() -> None:
    a = DeviceMessage(signals={"img": {"value": np.arange(6.0), "timestamp": 1.0}})
    b = DeviceMessage(signals={"img": {"value": np.arange(6.0) + 1, "timestamp": 1.0}})
    assert a != b


def test_equality_numpy_different_shape() -> None:
    a = DeviceMessage(signals={"img": {"value": np.arange(6.0).reshape(2, 3), "timestamp": 1.0}})
    b = DeviceMessage(signals={"img": {"value": np.arange(6.0).reshape(3, 2), "timestamp": 1.0}})
    c = DeviceMessage(signals={"img": {"value": np.arange(4.0), "timestamp": 1.0}})
    assert a != b
    assert a != c


def test_equality_numpy_nan_and_metadata_and_type() -> None:
    a = VariableMessage(value=np.array([1.0, np.nan]))
    assert a == VariableMessage(value=np.array([1.0, np.nan]))
    assert a != VariableMessage(value=np.array([1.0, np.nan]), metadata={"RID": "x"})
    assert VariableMessage(value=1) != messages.RawMessage(data=1)
    assert VariableMessage(value=1) != 1


def test_hash_equal_messages() -> None:
    assert hash(VariableMessage(value=1)) == hash(VariableMessage(value=1))


# ----------------------------------------------------------------- enums and helper models


def test_becstatus() -> None:
    assert issubclass(BECStatus, enum.Enum)
    assert not issubclass(BECStatus, int)
    assert {s.name: s.value for s in BECStatus} == {"RUNNING": 2, "BUSY": 1, "IDLE": 0, "ERROR": -1}
    msg = StatusMessage(name="ScanServer", status=2, info={"user": "u", "hostname": "h"})
    assert msg.status is BECStatus.RUNNING
    assert StatusMessage(name="x", status=BECStatus.ERROR, info={}).status is BECStatus.ERROR
    with pytest.raises(ValidationError):
        StatusMessage(name="x", status=7, info={})


def test_status_info_from_dict() -> None:
    msg = StatusMessage(name="ScanServer", status=0, info={"user": "u", "hostname": "h", "timestamp": 5.0})
    info = msg.info
    assert isinstance(info, ServiceInfo)
    assert (info.user, info.hostname, info.timestamp) == ("u", "h", 5.0)
    assert isinstance(info.versions, ServiceVersions)
    # a dict that is not a ServiceInfo stays a dict
    assert StatusMessage(name="x", status=0, info={"anything": 1}).info == {"anything": 1}


def test_service_versions_dict() -> None:
    versions = {
        "bec_lib": "4.3.2",
        "bec_server": "4.3.2",
        "bec_ipython_client": "4.3.2",
        "bec_widgets": "x",
        "ophyd_devices": "y",
    }
    info = ServiceInfo(user="u", hostname="h", versions=versions)
    assert info.versions.bec_server == "4.3.2"


def test_error_info() -> None:
    err = ErrorInfo(**ERROR_INFO)
    assert err.device is None
    assert len(err.id) == 36 and err.id != ErrorInfo(**ERROR_INFO).id
    with pytest.raises(ValidationError):
        ErrorInfo(error_message="x", exception_type="E")  # compact_error_message is required
    alarm = AlarmMessage(severity=1, info={**ERROR_INFO, "device": ["samx", "samy"]})
    assert isinstance(alarm.info, ErrorInfo) and alarm.info.device == ["samx", "samy"]


def test_queue_helpers_from_dicts() -> None:
    hist = ScanQueueHistoryMessage(status="COMPLETED", queue_id="q-1", info=QUEUE_INFO)
    assert isinstance(hist.info, QueueInfoEntry)
    block = hist.info.request_blocks[0]
    assert isinstance(block, RequestBlock)
    assert isinstance(block.msg, ScanQueueMessage)
    assert block.owned_device_locks == [] and block.report_instructions is None
    status = ScanQueueStatusMessage(**REQUIRED["ScanQueueStatusMessage"])
    assert isinstance(status.queue["primary"], ScanQueueStatus)
    assert status.queue["primary"].locks == []
    with pytest.raises(ValidationError):
        ScanQueueStatusMessage(queue={"primary": {"info": [], "status": "SLEEPING"}})


def test_helper_models_are_plain_basemodels() -> None:
    for cls in HELPER_MODELS.values():
        assert issubclass(cls, BaseModel)
        assert not issubclass(cls, BECMessage)


# ----------------------------------------------------------------- device messages


def test_device_instruction_actions() -> None:
    for action in ("rpc", "set", "read", "stage", "broadcast_scan_device_info", "point", "stop"):
        assert DeviceInstructionMessage(device=None, action=action, parameter={}).action == action
    with pytest.raises(ValidationError):
        DeviceInstructionMessage(device="samx", action="explode", parameter={})
    assert DeviceInstructionMessage(device=["samx", "samy"], action="read", parameter={}).device == [
        "samx",
        "samy",
    ]


def test_device_instruction_response() -> None:
    resp = DeviceInstructionResponse(
        device="samx",
        status="error",
        error_info=ERROR_INFO,
        instruction=INSTRUCTION,
        instruction_id="i-1",
        result=np.ones(3),
    )
    assert isinstance(resp.instruction, DeviceInstructionMessage)
    assert isinstance(resp.error_info, ErrorInfo)
    assert resp.result_is_status is None
    with pytest.raises(ValidationError):
        DeviceInstructionResponse(device="samx", status="done", instruction=INSTRUCTION, instruction_id="i")


def test_device_rpc_out_error_info() -> None:
    msg = DeviceRPCMessage(device="samx", return_val=None, out=ErrorInfo(**ERROR_INFO), success=False)
    assert isinstance(msg.out, ErrorInfo)


def test_device_config_requires_config_for_add_set_update() -> None:
    assert DeviceConfigMessage(action="reload").config is None
    assert DeviceConfigMessage(action="update", config={"samx": {"enabled": False}}).action == "update"
    for action in ("add", "set", "update"):
        with pytest.raises(ValidationError):
            DeviceConfigMessage(action=action)
    with pytest.raises(ValidationError):
        DeviceConfigMessage(action="explode", config={})


def test_device_message_keeps_numpy() -> None:
    arr = np.arange(3, dtype=np.int32)
    msg = DeviceMessage(signals={"det": {"value": arr, "timestamp": 1.0}})
    assert msg.signals["det"]["value"] is arr


# ----------------------------------------------------------------- bundle


def test_bundle() -> None:
    bundle = BundleMessage()
    assert len(bundle) == 0
    first = ScanMessage(point_id=0, scan_id="s", data={})
    bundle.append(first)
    bundle.append(ScanMessage(point_id=1, scan_id="s", data={}))
    assert len(bundle) == 2
    assert [m.point_id for m in bundle] == [0, 1]
    assert bundle.messages[0] is first
    with pytest.raises(AttributeError):
        bundle.append({"not": "a message"})  # type: ignore[arg-type]
    assert BundleMessage(messages=[first]).messages == [first]
