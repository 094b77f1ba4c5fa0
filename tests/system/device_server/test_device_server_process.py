"""The real ``bec-device-server`` entry point as a process: start, serve, SIGTERM, exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from bec_core import messages
from bec_core.serialization import dumps, loads

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[3]
EXE = Path(sys.executable).with_name("bec-device-server")
DEADLINE = 20.0


def wait_for(pubsub, accept, what: str, proc: subprocess.Popen, timeout: float = DEADLINE):
    """The first publication on ``pubsub`` that ``accept`` returns truthy for, within ``timeout`` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        item = pubsub.get_message(timeout=0.5)  # blocks for the next publication
        if item and item["type"] in ("message", "pmessage"):
            value = accept(loads(item["data"]))
            if value:
                return value
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} while waiting for {what}")
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def heartbeat(client: redis.Redis) -> messages.StatusMessage | None:
    raw = client.get("user/services/status/DeviceServer")
    return loads(raw) if raw else None


def test_process_serves_and_stops_cleanly_on_sigterm(clean_redis: str) -> None:
    client = redis.Redis.from_url(clean_redis)
    pubsub = client.pubsub()
    pubsub.subscribe("user/services/status/DeviceServer", "internal/devices/instructions_response")
    proc = subprocess.Popen(
        [str(EXE), "--redis", clean_redis, "--config", str(ROOT / "config/devices/test.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BEC_LOG_LEVEL": "INFO"},
    )
    try:
        wait_for(
            pubsub,
            lambda m: isinstance(m, messages.StatusMessage) and m.status == messages.BECStatus.RUNNING,
            "heartbeat RUNNING",
            proc,
        )
        instr_id = str(uuid.uuid4())
        msg = messages.DeviceInstructionMessage(
            device=["samx", "bpm4i"],
            action="read",
            parameter={"return_result": True},
            metadata={"device_instr_id": instr_id},
        )
        client.xadd("internal/devices/instructions", {"data": dumps(msg)})

        answer = wait_for(
            pubsub,
            lambda m: (
                isinstance(m, messages.DeviceInstructionResponse) and m.instruction_id == instr_id and m
            ),
            "the reply",
            proc,
        )
        assert answer.status == "completed" and set(answer.result) == {"samx", "bpm4i"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
        assert heartbeat(client).status == messages.BECStatus.IDLE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        client.close()
    assert "Traceback" not in output, output


def test_unreadable_device_file_exits_2(clean_redis: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("samx: [unclosed")
    result = subprocess.run(
        [str(EXE), "--redis", clean_redis, "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "invalid YAML" in result.stderr
