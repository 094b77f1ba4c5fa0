"""The real-hardware path: an ``ophyd.EpicsMotor`` on a caproto IOC, driven through the device server.

The IOC (``caproto.ioc_examples.fake_motor_record``) and the device server run as
subprocesses on loopback with a random CA server port and a unique PV prefix, so
two runs never collide.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bec_core import messages
from bec_core.serialization import dumps, loads

DEADLINE = 30.0
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A port free for both TCP and UDP on loopback."""
    for _ in range(50):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def read_until(proc: subprocess.Popen, marker: str, timeout: float) -> None:
    """Read the process output line by line until ``marker`` appears (deadline ``timeout``)."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        if not sel.select(timeout=max(0.0, end - time.monotonic())):
            break
        line = proc.stdout.readline().decode(errors="replace")
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"{marker!r} not seen within {timeout} s: {''.join(seen)[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def ioc() -> Iterator[tuple[str, dict[str, str]]]:
    """A fake motor IOC; yields (PV prefix, client environment)."""
    port, repeater_port = free_port(), free_port()
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    common = {**os.environ, "EPICS_CA_SERVER_PORT": str(port), "EPICS_CA_REPEATER_PORT": str(repeater_port)}
    server_env = {
        **common,
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_SERVER_PORT": str(port),
    }
    client_env = {**common, "EPICS_CA_AUTO_ADDR_LIST": "NO", "EPICS_CA_ADDR_LIST": "127.0.0.1"}
    procs = []
    if shutil.which("caproto-repeater", path=str(BIN)):
        procs.append(
            subprocess.Popen(
                [str(BIN / "caproto-repeater")],
                env=common,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    ioc_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "caproto.ioc_examples.fake_motor_record",
            "--prefix",
            prefix,
            "--list-pvs",
            "--interfaces",
            "127.0.0.1",
        ],
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    procs.append(ioc_proc)
    try:
        read_until(ioc_proc, f"{prefix}mtr1", DEADLINE)
        yield prefix, client_env
    finally:
        for proc in reversed(procs):
            stop(proc)


def wait_for(pubsub, accept, what: str, proc: subprocess.Popen, timeout: float = DEADLINE):
    """The first publication ``accept`` returns truthy for (blocking reads with a deadline)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        item = pubsub.get_message(timeout=0.5)
        if item and item["type"] == "message":
            value = accept(loads(item["data"]))
            if value:
                return value
        if proc.poll() is not None:
            raise AssertionError(f"device server exited with {proc.returncode} while waiting for {what}")
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_epics_motor_through_the_device_server(
    ioc: tuple[str, dict[str, str]], clean_redis: str, tmp_path: Path
) -> None:
    prefix, env = ioc
    config = tmp_path / "epics.yaml"
    config.write_text(
        f"mtr1:\n  deviceClass: ophyd.EpicsMotor\n  deviceConfig:\n    prefix: '{prefix}mtr1'\n"
        "  readoutPriority: baseline\n  enabled: true\n  connectionTimeout: 10\n"
    )
    client = redis.Redis.from_url(clean_redis)
    pubsub = client.pubsub()
    pubsub.subscribe("user/services/status/DeviceServer", "internal/devices/instructions_response")
    server = subprocess.Popen(
        [str(BIN / "bec-device-server"), "--redis", clean_redis, "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def request(device, action, parameter):
        instr_id = str(uuid.uuid4())
        msg = messages.DeviceInstructionMessage(
            device=device, action=action, parameter=parameter, metadata={"device_instr_id": instr_id}
        )
        client.xadd("internal/devices/instructions", {"data": dumps(msg)})
        return wait_for(
            pubsub,
            lambda m: (
                isinstance(m, messages.DeviceInstructionResponse) and m.instruction_id == instr_id and m
            ),
            f"reply to {action}",
            server,
        )

    try:
        wait_for(
            pubsub,
            lambda m: isinstance(m, messages.StatusMessage) and m.status == messages.BECStatus.RUNNING,
            "heartbeat RUNNING",
            server,
        )
        info = loads(client.get("info/devices/info/mtr1"))
        assert info.info["device_base_class"] == "positioner" and info.info["device_class"] == "EpicsMotor"
        limits = loads(client.get("info/devices/limits/mtr1")).signals
        assert limits["low"]["value"] < limits["high"]["value"]  # travel limits, not EpicsMotor.limits (0, 0)
        target = 0.5
        moved = request("mtr1", "set", {"value": target})
        assert moved.status == "completed", moved.error_info
        read = request("mtr1", "read", {"return_result": True})
        assert read.status == "completed"
        assert read.result["mtr1"]["mtr1"]["value"] == pytest.approx(target, abs=0.01)
        velocity = request("mtr1", "rpc", {"device": "mtr1", "func": "velocity.get", "rpc_id": "v"})
        assert velocity.status == "completed" and velocity.result > 0
        wrong = request("mtr1", "set", {"value": "far"})
        assert wrong.status == "error" and wrong.error_info.device == "mtr1"
        server.terminate()
        assert server.wait(DEADLINE) == 0
    finally:
        stop(server)
        client.close()
