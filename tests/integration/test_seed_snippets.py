"""Every snippet of the user documentation (shared/seed/event_data.md) runs with bec_core.

The snippets are taken from the seed file itself (``bec_lib`` replaced by
``bec_core``); where the seed is not beside the repository, the copy below is used.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import RedisConnector

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "event_data.md"

COPY = [
    "from bec_lib.endpoints import MessageEndpoints\nmsg = bec.connector.get(MessageEndpoints.scan_status())\n"
    "msg.content # Content of the ScanStatusMessage\nmsg.metadata # Metadata of the ScanStatusMessage\n",
    "from bec_lib.endpoints import MessageEndpoints\nmsg = bec.connector.get(MessageEndpoints.scan_number())\n"
    'current_scan_number = msg.content["value"]\n',
    "from bec_lib.endpoints import MessageEndpoints\nmsg = bec.connector.get(MessageEndpoints.device_read())\n"
    "msg.content # Content of the ScanStatusMessage\nmsg.metadata # Metadata of the ScanStatusMessage\n",
    'def my_cb(msg, **kwargs):\n    if msg.value.content["point_id"] ==20:\n        print("Point 20 is done")\n'
    "        # My custom api call\n",
    "bec.connector.subscribe(MessageEndpoints.scan_segment(), my_cb)\n",
    "from bec_lib.endpoints import MessageEndpoints\nfrom bec_lib.redis_connector import RedisConnector\n"
    'bootstrap = "localhost:6379" \nconnector = RedisConnector(bootstrap)\nconnector.get(MessageEndpoints.device_read())\n',
]


def seed_snippets() -> list[str]:
    text = SEED.read_text() if SEED.exists() else None
    blocks = re.findall(r"``` ?python\n(.*?)```", text, re.S) if text else COPY
    return [b.replace("bec_lib", "bec_core") for b in blocks]


def test_copy_matches_the_seed() -> None:
    if not SEED.exists():
        pytest.skip(
            f"BEC's user documentation page event_data.md is not at {SEED} (a checkout outside this "
            "project's workspace); the snippets are tested from the copy in this file instead"
        )
    assert re.findall(r"``` ?python\n(.*?)```", SEED.read_text(), re.S) == COPY


def test_ipython_block_output() -> None:
    assert (
        repr(MessageEndpoints.scan_status().message_type) == "<class 'bec_core.messages.ScanStatusMessage'>"
    )
    assert repr(MessageEndpoints.scan_status().message_op) == (
        "<MessageOp.SET_PUBLISH: ['register', 'set_and_publish', 'delete', 'get', 'keys']>"
    )


@pytest.fixture
def bec(clean_redis: str):
    address = clean_redis.removeprefix("redis://")
    connector = RedisConnector(address)
    connector.set_and_publish(
        MessageEndpoints.scan_status(),
        messages.ScanStatusMessage(
            scan_id="s1", status="closed", scan_number=3, info={}, metadata={"RID": "r1"}
        ),
    )
    connector.set(MessageEndpoints.scan_number(), messages.VariableMessage(value={"": 3}))
    connector.set_and_publish(
        MessageEndpoints.device_read("samx"),
        messages.DeviceMessage(signals={"samx": {"value": 1.0, "timestamp": 10.0}}),
    )
    connector.set_and_publish(
        MessageEndpoints.device_read("bpm4i"),
        messages.DeviceMessage(signals={"bpm4i": {"value": 7.0, "timestamp": 20.0}}),
    )
    yield SimpleNamespace(connector=connector, address=address)
    connector.shutdown()


def test_seed_snippets_run(bec, capsys) -> None:
    snippets = seed_snippets()
    namespace: dict = {"bec": bec}
    outputs = []
    for code in snippets:
        code = code.replace('"localhost:6379"', repr(bec.address))
        exec(compile(code, "<seed>", "exec"), namespace)
        outputs.append(dict(namespace))
    # snippet 1: the scan status
    assert outputs[0]["msg"].content["scan_id"] == "s1" and outputs[0]["msg"].metadata == {"RID": "r1"}
    # snippet 2: the scan number
    assert outputs[1]["current_scan_number"] == {"": 3}
    # snippet 3 and 6: the last device_read message (the newest of all devices)
    assert "bpm4i" in outputs[2]["msg"].content["signals"]
    assert "bpm4i" in namespace["connector"].get(MessageEndpoints.device_read()).signals
    namespace["connector"].shutdown()

    # snippets 4 and 5 subscribed my_cb to scan segments: publish 21 points
    done = threading.Event()
    bec.connector.subscribe(MessageEndpoints.scan_status(), lambda msg: done.set())
    for point in range(21):
        bec.connector.send(
            MessageEndpoints.scan_segment(), messages.ScanMessage(point_id=point, scan_id="s1", data={})
        )
    bec.connector.set_and_publish(
        MessageEndpoints.scan_status(), messages.ScanStatusMessage(scan_id="s1", status="closed", info={})
    )
    # callbacks run in one thread in arrival order: once the status callback ran, my_cb saw every point
    assert done.wait(10.0)
    assert capsys.readouterr().out.count("Point 20 is done") == 1


def test_sync_facade_callbacks_run_off_the_caller_thread(bec) -> None:
    seen: list[str] = []
    done = threading.Event()

    def cb(msg, **kwargs):
        seen.append(threading.current_thread().name)
        done.set()

    bec.connector.register(MessageEndpoints.device_readback("samx"), cb=cb)
    bec.connector.set_and_publish(
        MessageEndpoints.device_readback("samx"), messages.DeviceMessage(signals={})
    )
    assert done.wait(10.0)
    assert seen and seen[0] != threading.current_thread().name
    bec.connector.unregister(MessageEndpoints.device_readback("samx"), cb=cb)
    assert not bec.connector.async_connector._callbacks or all(
        h.sub.name != "info/devices/readback/samx" for h in bec.connector.async_connector._callbacks
    )


def test_sync_facade_surface(bec) -> None:
    conn = bec.connector
    ep = MessageEndpoints.log()
    conn.xadd(ep, {"data": messages.LogMessage(log_type="info", log_msg="x")})
    assert conn.get_last(ep).log_msg == "x"
    assert conn.keys(MessageEndpoints.device_read()) == ["info/devices/read/bpm4i", "info/devices/read/samx"]
    pipe = conn.pipeline()
    conn.set(MessageEndpoints.global_vars("a"), messages.VariableMessage(value=1), pipe=pipe)
    conn.set(MessageEndpoints.global_vars("b"), messages.VariableMessage(value=2), pipe=pipe)
    conn.execute_pipeline(pipe)
    assert [
        m.value for m in conn.mget([MessageEndpoints.global_vars("a"), MessageEndpoints.global_vars("b")])
    ] == [1, 2]
    assert conn.ping()
