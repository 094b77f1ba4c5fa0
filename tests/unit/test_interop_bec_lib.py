"""Interop with stock bec_lib 4.3.x, both directions: their bytes decode in ours, ours in theirs."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bec_core import messages as ours
from bec_core.messages import examples
from bec_core.serialization import dumps, loads

if os.environ.get("CI"):
    import bec_lib.messages as theirs  # in CI the interop tests must run
else:
    theirs = pytest.importorskip("bec_lib.messages", reason="stock bec-lib 4.3.x is not installed")
from bec_lib.device import Positioner
from bec_lib.serialization import MsgpackSerialization as TheirCodec

pytestmark = pytest.mark.interop

SCAN_STATUS = examples.SCAN_STATUS
ERROR = dict(
    id="e1",
    error_message="samx: boom",
    compact_error_message="boom",
    exception_type="LimitError",
    device="samx",
)
QUEUE_INFO = dict(
    queue_id="q1",
    scan_id=["s1"],
    is_scan=[True],
    scan_number=[7],
    status="RUNNING",
    request_blocks=[
        dict(
            msg=dict(scan_type="line_scan", parameter={"args": {"samx": [-5, 5]}, "kwargs": {}}),
            RID="r1",
            readout_priority={"monitored": ["samx"]},
            is_scan=True,
            scan_number=7,
            scan_id="s1",
            report_instructions=[{"scan_progress": {"points": 3, "show_table": True}}],
        )
    ],
)


def both(name: str, **fields):
    """The same message built with bec_lib and with bec_core."""
    return getattr(theirs, name)(**fields), getattr(ours, name)(**fields)


CASES = {
    "ScanStatusMessage": SCAN_STATUS,
    "DeviceMessage": dict(
        signals={
            "samx": {"value": 1.5, "timestamp": 1.0},
            "cam_image": {"value": np.arange(6, dtype=np.uint16).reshape(2, 3), "timestamp": 2.0},
        },
        metadata={"point_id": 3},
    ),
    "ScanMessage": dict(
        point_id=0, scan_id="s1", data={"bpm4i": {"bpm4i": {"value": np.float32(2), "timestamp": 1.0}}}
    ),
    "VariableMessage": dict(value={"": 12}),
    "AlarmMessage": dict(severity=2, info=ERROR, metadata={"scan_id": "s1"}),
    "RequestResponseMessage": dict(
        accepted=False, message="samx: target 80 outside limits [-50, 50]", metadata={"RID": "r1"}
    ),
    "ScanQueueStatusMessage": dict(
        queue={"primary": {"info": [QUEUE_INFO], "status": "RUNNING", "locks": []}}
    ),
    "ProgressMessage": dict(value=3, max_value=10, done=False, metadata={"scan_id": "s1"}),
    "DeviceReqStatusMessage": dict(device="samx", success=True, request_id="r1", metadata={"action": "set"}),
    "DeviceRPCMessage": dict(device="samx", return_val={"samx": {"value": 1.0}}, out="", success=True),
    "LogMessage": dict(log_type="warning", log_msg={"text": "hi", "service_name": "ScanServer"}),
    "ScanQueueModificationMessage": dict(scan_id="s1", action="abort", parameter={}),
    "DeviceInfoMessage": dict(device="samx", info={"device_base_class": "positioner", "signals": {}}),
    "AvailableResourceMessage": dict(resource=[{"name": "samx", "enabled": True}]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_their_bytes_decode_in_ours(name: str) -> None:
    their_msg, our_msg = both(name, **CASES[name])
    assert loads(TheirCodec.dumps(their_msg)) == our_msg


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_bytes_decode_in_theirs(name: str) -> None:
    their_msg, our_msg = both(name, **CASES[name])
    assert TheirCodec.loads(dumps(our_msg)) == their_msg


def test_scan_status_bytes_are_identical() -> None:
    their_msg, our_msg = both("ScanStatusMessage", **SCAN_STATUS)
    assert dumps(our_msg) == TheirCodec.dumps(their_msg)
    assert len(dumps(our_msg)) == 489


def test_stock_scan_request_with_device_envelope_keys() -> None:
    """`scans.line_scan(dev.samx, ...)` sends args keyed by a DeviceBase envelope."""
    request = theirs.ScanQueueMessage(
        scan_type="line_scan",
        parameter={"args": {Positioner(name="samx"): [-5, 5]}, "kwargs": {"steps": 10, "relative": False}},
        metadata={"RID": "r1"},
    )
    msg = loads(TheirCodec.dumps(request))
    assert isinstance(msg, ours.ScanQueueMessage)
    assert msg.parameter["args"] == {"samx": [-5, 5]}
    assert msg.metadata["RID"] == "r1"


def test_stock_bundle_of_scan_messages() -> None:
    bundle = theirs.BundleMessage(
        messages=[
            theirs.ScanMessage(point_id=i, scan_id="s1", data={"samx": {"samx": {"value": i}}})
            for i in range(4)
        ]
    )
    decoded = loads(TheirCodec.dumps(bundle))
    assert [m.point_id for m in decoded] == [0, 1, 2, 3]
    assert all(isinstance(m, ours.ScanMessage) for m in decoded)
    ours_bundle = ours.BundleMessage(messages=[ours.ScanMessage(point_id=0, scan_id="s", data={})])
    assert [m.point_id for m in TheirCodec.loads(dumps(ours_bundle))] == [0]


def test_stock_heartbeat() -> None:
    their_msg = theirs.StatusMessage(
        name="ScanServer",
        status=theirs.BECStatus.RUNNING,
        info=theirs.ServiceInfo(user="u", hostname="h", timestamp=1.0),
    )
    msg = loads(TheirCodec.dumps(their_msg))
    assert msg.status is ours.BECStatus.RUNNING and msg.name == "ScanServer"
    assert msg.info.hostname == "h"
    ours_msg = ours.StatusMessage(
        name="DeviceServer",
        status=ours.BECStatus.RUNNING,
        info={"user": "u", "hostname": "h", "timestamp": 1.0, "pid": 42},
    )
    back = TheirCodec.loads(dumps(ours_msg))
    assert back.status == theirs.BECStatus.RUNNING and back.name == "DeviceServer"
