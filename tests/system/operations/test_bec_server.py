"""``bec-server`` with the real services: start, status, check, stop, foreground, faults, auth."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from bec_server_stack import BEC_SERVER, TEST_DEVICES, Stack, stack_in

from bec_core.launcher.procs import is_alive
from bec_core.launcher.specs import SERVICES
from bec_core.redis_server import RedisServer

pytestmark = pytest.mark.system


#: What ``bec-server start`` runs: every service key and every heartbeat name it publishes.
KEYS = [spec.key for spec in SERVICES]
HEARTBEATS = [hb for spec in SERVICES for hb in spec.heartbeats]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """``bec-server`` on a state dir and a free port; what is still running afterwards is stopped."""
    yield from stack_in(tmp_path)


def test_start_status_check_stop(stack: Stack) -> None:
    started = stack.run("start", "--config", str(TEST_DEVICES))
    assert started.returncode == 0, started.stderr
    lines = started.stdout.splitlines()
    assert [line.split()[0] for line in lines[: len(KEYS) + 1]] == ["redis", *KEYS]
    pids = stack.pids()
    assert set(pids) == {"redis", *KEYS}
    for key in KEYS:
        assert f"pid {pids[key]}" in started.stdout
        assert str(stack.state / "logs" / f"{key}.log") in started.stdout
    assert all(is_alive(pid) for pid in pids.values())

    status = stack.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    for name in HEARTBEATS:
        assert name in status.stdout
    assert status.stdout.count("RUNNING") == len(HEARTBEATS)
    assert str(pids["device-server"]) in status.stdout

    for name in (*HEARTBEATS, *KEYS):
        assert stack.run("check", "--service", name).returncode == 0
    assert stack.run("check").returncode == 0
    assert stack.run("start", "--check").returncode == 0

    again = stack.run("start", "--config", str(TEST_DEVICES))
    assert again.returncode == 1 and "already running" in again.stderr

    stopped = stack.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "killed" not in stopped.stdout
    assert not any(is_alive(pid) for pid in pids.values())
    assert stack.pids() == {}

    nothing = stack.run("stop")
    assert nothing.returncode == 0 and "nothing is running" in nothing.stdout
    down = stack.run("check", "--service", "DeviceServer")
    assert down.returncode == 1
    assert stack.run("status").returncode == 3


def _service_addresses(address: str, password: str | None = None, username: str | None = None) -> set[str]:
    """Where the services' connections come from, as Redis sees them (CLIENT LIST over TCP)."""
    host, port = address.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port), username=username, password=password)
    try:
        names = {hb.split("/")[0] for hb in HEARTBEATS}
        return {c["addr"].rsplit(":", 1)[0] for c in client.client_list() if c["name"].split("_")[0] in names}
    finally:
        client.close()


def test_the_services_reach_the_embedded_redis_on_its_unix_socket(stack: Stack) -> None:
    """Services started beside the Redis they started use its unix socket; clients keep TCP."""
    sock = str(stack.state / "run" / "redis.sock")
    assert stack.run("start", "--config", str(TEST_DEVICES)).returncode == 0
    for _ in ("start", "restart"):
        addresses = _service_addresses(stack.redis)  # Redis cuts a long path short in CLIENT LIST
        assert len(addresses) == 1 and sock.startswith(addresses.pop()[:40]), addresses
        assert stack.run("check").returncode == 0  # over TCP, as a client
        environ = Path(f"/proc/{stack.pids()['scan-server']}/environ").read_bytes().split(b"\0")
        assert f"BEC_REDIS_TCP_URL=redis://{stack.redis}".encode() in environ  # for stock bec_lib
        assert stack.run("restart", "--config", str(TEST_DEVICES)).returncode == 0
    assert stack.run("stop").returncode == 0


def test_restart_replaces_the_processes(stack: Stack) -> None:
    assert stack.run("start", "--config", str(TEST_DEVICES)).returncode == 0
    before = stack.pids()
    restarted = stack.run("restart", "--config", str(TEST_DEVICES))
    assert restarted.returncode == 0, restarted.stderr
    after = stack.pids()
    assert set(after) == set(before)
    assert not any(is_alive(pid) for pid in before.values())
    assert all(is_alive(pid) for pid in after.values())
    assert stack.run("stop").returncode == 0


def _reader(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))
    lines.put("<EOF>")


def _wait_for_line(lines: queue.Queue[str], text: str, timeout: float = 60.0) -> list[str]:
    seen = []
    while True:
        line = lines.get(timeout=timeout)
        seen.append(line)
        if text in line or line == "<EOF>":
            assert text in line, "\n".join(seen)
            return seen


def test_foreground_prefixes_output_and_stops_everything_on_ctrl_c(stack: Stack) -> None:
    proc = subprocess.Popen(
        [BEC_SERVER, "start", "--foreground", "--config", str(TEST_DEVICES), *stack.where],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    try:
        seen = _wait_for_line(lines, "all services RUNNING")
        pids = stack.pids()
        assert set(pids) == {"redis", *KEYS}
        assert any(line.startswith("[device-server] ") for line in seen)
        assert any(line.startswith("[scan-server] ") for line in seen)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        rest = _wait_for_line(lines, "<EOF>")
        assert code == 0, "\n".join(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(is_alive(pid) for pid in pids.values())
    assert stack.pids() == {}
    assert "device-server" in (stack.state / "logs" / "device-server.log").read_text()


# -- faults ------------------------------------------------------------------------------------------


def test_invalid_device_config_fails_the_start_and_stops_everything(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("samx: [1, 2\n")
    result = stack.run("start", "--config", str(bad))
    assert result.returncode == 1
    assert "device-server exited with status 2 during start" in result.stderr
    assert "invalid YAML" in result.stderr
    assert "stopped what it started" in result.stderr
    assert stack.pids() == {}


def test_a_device_that_fails_to_load_is_reported(stack: Stack, tmp_path: Path) -> None:
    config = tmp_path / "devices.yaml"
    config.write_text(
        TEST_DEVICES.read_text() + "\nbroken:\n  deviceClass: bec_device_server.sim.SimPositioner\n"
    )
    result = stack.run("start", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "warning: device-server reported:" in result.stdout
    assert "broken" in result.stdout
    assert stack.run("stop").returncode == 0


def test_a_port_taken_by_another_program(stack: Stack) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        stack.redis = f"127.0.0.1:{sock.getsockname()[1]}"
        result = stack.run("start", "--config", str(TEST_DEVICES))
    assert result.returncode == 1
    assert f"{stack.redis} is taken by a program that is not Redis" in result.stderr
    assert stack.pids() == {}


def test_a_missing_device_config_is_named(stack: Stack, tmp_path: Path) -> None:
    result = stack.run("start", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1 and "nope.yaml not found" in result.stderr


# -- authentication ----------------------------------------------------------------------------------


def test_stack_runs_with_an_acl_user(stack: Stack, acl_redis: RedisServer) -> None:
    stack.redis = acl_redis.address
    stack.env.update(BEC_REDIS_USERNAME="bec", BEC_REDIS_PASSWORD="s3cret")
    started = stack.run("start", "--config", str(TEST_DEVICES))
    assert started.returncode == 0, started.stderr
    assert "redis" not in stack.pids()  # an existing Redis is used, not replaced
    addresses = _service_addresses(acl_redis.address, username="bec", password="s3cret")
    assert addresses and all(a.startswith("127.0.0.1") for a in addresses)  # its TCP address
    assert stack.run("check").returncode == 0
    assert stack.run("stop").returncode == 0


def test_a_wrong_password_fails_naming_the_user(stack: Stack, acl_redis: RedisServer) -> None:
    stack.redis = acl_redis.address
    stack.env.update(BEC_REDIS_USERNAME="bec", BEC_REDIS_PASSWORD="wrong")
    result = stack.run("start", "--config", str(TEST_DEVICES))
    assert result.returncode == 1
    assert "refused user 'bec'" in result.stderr
    assert "wrong" not in result.stderr
    assert stack.pids() == {}


@pytest.mark.parametrize("command", [spec.command for spec in SERVICES])
def test_a_service_with_a_wrong_password_exits_2_naming_the_user(
    command: str, acl_redis: RedisServer
) -> None:
    env = {**os.environ, "BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "wrong"}
    args = [str(Path(sys.executable).parent / command), "--redis", acl_redis.address]
    if command == "bec-device-server":
        args += ["--config", str(TEST_DEVICES)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "refused user 'bec'" in result.stderr


@pytest.fixture
def no_set_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server whose user ``bec`` (password ``pw``) may do everything except SET."""
    acl = tmp_path / "users.acl"
    acl.write_text("user bec on >pw ~* &* +@all -set\nuser default off\n")
    with RedisServer(acl_file=acl, data_dir=tmp_path) as server:
        yield server


def test_a_missing_permission_fails_the_start_naming_user_and_command(
    stack: Stack, no_set_redis: RedisServer
) -> None:
    stack.redis = no_set_redis.address
    stack.env.update(BEC_REDIS_USERNAME="bec", BEC_REDIS_PASSWORD="pw")
    result = stack.run("start", "--config", str(TEST_DEVICES))
    assert result.returncode == 1
    assert "Redis user 'bec' may not run SET" in result.stderr
    assert stack.pids() == {}


def test_a_service_without_permission_exits_2_naming_user_and_command(no_set_redis: RedisServer) -> None:
    env = {**os.environ, "BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "pw"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "bec-scan-server"), "--redis", no_set_redis.address],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "'bec'" in result.stderr and "SET" in result.stderr
    assert result.returncode == 2
