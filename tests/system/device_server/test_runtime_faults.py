"""A device that fails at runtime follows its ``onFailure`` policy and never takes the server down.

The real ``bec-device-server`` as a process hosts ``runtime_faults.FaultyDevice``
(``plugins/``, allowed through ``device_server.allowed_modules`` as a beamline
plugin is), whose calls run in the server's thread pool and raise there, also
``SystemExit`` and ``KeyboardInterrupt`` (which, awaited, would end an event loop;
before the fix a ``SystemExit`` in a first read ended the server at start with
exit 1). Every failing instruction is answered with an error naming the device,
the server stays RUNNING, the other devices serve, and SIGTERM still exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
import yaml

from bec_core import messages
from bec_core.serialization import dumps, loads

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[3]
PLUGINS = Path(__file__).resolve().parent / "plugins"
EXE = Path(sys.executable).with_name("bec-device-server")
DEADLINE = 20.0

DEVICES = {
    "samx": {
        "deviceClass": "bec_device_server.sim.SimPositioner",
        "deviceConfig": {"delay": 0},
        "readoutPriority": "baseline",
        "enabled": True,
    },
    "faulty": {
        "deviceClass": "runtime_faults.FaultyDevice",
        "deviceConfig": {
            "raise_in": {"read": "SystemExit", "trigger": "KeyboardInterrupt", "set": "RuntimeError"}
        },
        "readoutPriority": "monitored",
        "onFailure": "raise",
        "enabled": True,
    },
    "faulty_retry": {
        "deviceClass": "runtime_faults.FaultyDevice",
        "deviceConfig": {"raise_in": {"read": "KeyboardInterrupt"}},
        "readoutPriority": "monitored",
        "onFailure": "retry",
        "enabled": True,
    },
}


def next_message(pubsub: Any, accept: Any, what: str, proc: subprocess.Popen[bytes]) -> Any:
    """The first publication ``accept`` returns truthy for, within DEADLINE."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        item = pubsub.get_message(timeout=0.5)  # blocks for the next publication
        if item and item["type"] == "message":
            value = accept(loads(item["data"]))
            if value:
                return value
        if proc.poll() is not None:
            raise AssertionError(f"the device server exited ({proc.returncode}) waiting for {what}")
    raise AssertionError(f"timed out after {DEADLINE} s waiting for {what}")


def test_failing_device_code_fails_its_instruction_never_the_server(clean_redis: str, tmp_path: Path) -> None:
    config = tmp_path / "devices.yaml"
    config.write_text(yaml.safe_dump(DEVICES))
    service = tmp_path / "services.yaml"
    service.write_text(
        yaml.safe_dump(
            {
                "device_server": {
                    "allowed_modules": ["ophyd", "ophyd_devices", "bec_device_server", "runtime_faults"]
                }
            }
        )
    )
    client = redis_py.Redis.from_url(clean_redis)
    pubsub = client.pubsub()
    pubsub.subscribe("user/services/status/DeviceServer", "internal/devices/instructions_response")
    log = tmp_path / "ds.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(EXE), "--redis", clean_redis, "--config", str(config), "--service-config", str(service)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(PLUGINS)},
        )

    def instruct(device: Any, action: str, parameter: dict[str, Any] | None = None) -> Any:
        instr_id = str(uuid.uuid4())
        msg = messages.DeviceInstructionMessage(
            device=device, action=action, parameter=parameter or {}, metadata={"device_instr_id": instr_id}
        )
        client.xadd("internal/devices/instructions", {"data": dumps(msg)})
        return next_message(
            pubsub,
            lambda m: (
                isinstance(m, messages.DeviceInstructionResponse)
                and m.instruction_id == instr_id
                and m.status != "running"
                and m
            ),
            f"the reply to {action} {device}",
            proc,
        )

    try:
        next_message(
            pubsub,
            lambda m: isinstance(m, messages.StatusMessage) and m.status == messages.BECStatus.RUNNING,
            "heartbeat RUNNING",
            proc,
        )  # a SystemExit in the first read at start did not end it
        for device, action, parameter, raised in [
            ("faulty", "read", None, "SystemExit"),
            ("faulty", "trigger", None, "KeyboardInterrupt"),
            ("faulty", "set", {"value": 2.0}, "RuntimeError"),
            ("faulty_retry", "read", None, "KeyboardInterrupt"),  # retried once, then the error
            (["samx", "faulty"], "read", None, "SystemExit"),
        ]:
            reply = instruct(device, action, parameter)
            assert reply.status == "error", (device, action)
            assert reply.error_info.device == ("faulty_retry" if device == "faulty_retry" else "faulty")
            assert raised in reply.error_info.error_message, reply.error_info.error_message
            assert proc.poll() is None
        ok = instruct(["samx"], "read", {"return_result": True})
        assert ok.status == "completed" and "samx" in ok.result
        beat = loads(client.get("user/services/status/DeviceServer"))
        assert beat.status == messages.BECStatus.RUNNING
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pubsub.close()
        client.close()
    assert "Traceback" not in log.read_text(errors="replace")
