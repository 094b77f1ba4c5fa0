"""Defect 7 of issue 11: every request that carries a RID gets an answer.

Wrong-class and undecodable messages (among them a scan request whose metadata is
nested 5,000 deep) on the scan-request, queue-modification, queue-order and
device-config-request channels, each with a RID, sent to the real servers.
"""

from __future__ import annotations

import uuid

import msgpack
import pytest
from faultkit import FaultStack
from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services
from waiting import until

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    DeviceConfigMessage,
    RequestResponseMessage,
    ScanQueueModificationMessage,
    ScanQueueOrderMessage,
    VariableMessage,
)
from bec_core.serialization import dumps

pytestmark = pytest.mark.system

DEADLINE = 30.0
_PLACEHOLDER = msgpack.packb("__DEEP__")
DEEP = b"\x81\xa1a" * 5000 + b"\xc0"  # {"a": {"a": ... None}} nested 5,000 deep


def too_deep(msg) -> bytes:  # type: ignore[no-untyped-def]
    """``msg`` encoded with ``metadata["deep"]`` nested 5,000 levels (no encoder would produce it)."""
    msg.metadata["deep"] = "__DEEP__"
    raw = dumps(msg)
    assert raw.count(_PLACEHOLDER) == 1
    return raw.replace(_PLACEHOLDER, DEEP)


def wrong_class(rid: str) -> bytes:
    return dumps(VariableMessage(value=1, metadata={"RID": rid}))


def rid() -> str:
    return str(uuid.uuid4())


async def test_wrong_class_and_undecodable_requests_get_answers(fault_stack: FaultStack, client):
    stack = fault_stack.start()
    await wait_services(client, ["ScanServer", "ScanBundler", "DeviceServer"], DEADLINE)
    rec = await Recorder(client).follow(**all_endpoints())

    requests = {  # (channel, bytes, where the answer goes)
        "scan request nested 5,000 deep": (
            MessageEndpoints.scan_queue_request("default").endpoint,
            too_deep(request("acquire")),
            "response",
        ),
        "modification, wrong class": (
            MessageEndpoints.scan_queue_modification_request().endpoint,
            wrong_class(rid()),
            "response",
        ),
        "modification, undecodable": (
            MessageEndpoints.scan_queue_modification_request().endpoint,
            too_deep(
                ScanQueueModificationMessage(
                    action="pause", parameter={}, queue="primary", metadata={"RID": rid()}
                )
            ),
            "response",
        ),
        "order, wrong class": (
            MessageEndpoints.scan_queue_order_change_request().endpoint,
            wrong_class(rid()),
            "order",
        ),
        "order, undecodable": (
            MessageEndpoints.scan_queue_order_change_request().endpoint,
            too_deep(
                ScanQueueOrderMessage(scan_id="x", action="move_up", queue="primary", metadata={"RID": rid()})
            ),
            "order",
        ),
    }
    config_requests = {
        "config request, wrong class": wrong_class(rid()),
        "config request, undecodable": too_deep(
            DeviceConfigMessage(action="update", config={"samx": {"enabled": True}}, metadata={"RID": rid()})
        ),
    }
    rids = {}
    for what, (channel, raw, _where) in requests.items():
        rids[what] = _rid_of(raw)
        await client.raw_send(channel, raw)
    for what, (_channel, _raw, where) in requests.items():
        answer = await rec.wait_for(
            lambda w=where, r=rids[what]: next((m for m in rec.msgs[w] if m.metadata.get("RID") == r), None),
            f"the answer to the {what}",
            DEADLINE,
        )
        assert isinstance(answer, RequestResponseMessage) and answer.accepted is False, what
        assert answer.message and len(answer.message) <= 2000, (what, answer.message)
        assert (
            ("undecodable" in answer.message) if "wrong class" not in what else ("expected" in answer.message)
        )
    for what, raw in config_requests.items():
        r = _rid_of(raw)
        await client.raw_send(MessageEndpoints.device_config_request().endpoint, raw)
        key = MessageEndpoints.device_config_request_response(r)
        assert await until(lambda k=key: _exists(client, k), DEADLINE), f"no answer to the {what}"
        answer = await client.get(key)
        assert answer.accepted is False and answer.message, what
    # both servers carry on
    msg = request("acquire")
    assert (await submit(client, rec, msg)).accepted
    scan_id = await scan_id_of(rec, msg.metadata["RID"])
    await rec.wait_for(lambda: "closed" in rec.statuses(scan_id), "a scan after the bad requests", DEADLINE)
    for proc in (stack.ds, stack.ss):
        assert proc is not None and proc.proc is not None and proc.proc.poll() is None


def _rid_of(raw: bytes) -> str:
    start = raw.index(msgpack.packb("RID")) + len(msgpack.packb("RID"))
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(raw[start : start + 100])
    return unpacker.unpack()


async def _exists(client, key) -> bool:  # type: ignore[no-untyped-def]
    return bool(await client.redis.exists(key.endpoint))
