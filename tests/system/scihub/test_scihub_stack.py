"""``bec-server start`` runs ``bec-scihub``; a stock client's restart request restarts the stack."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from bec_server_stack import BEC_SERVER, TEST_DEVICES, Stack, stack_in
from scihub_harness import wait_for

from bec_core.launcher.procs import is_alive
from bec_core.serialization import loads

pytestmark = pytest.mark.system
pytest.importorskip("bec_lib")

from bec_lib import messages as bec_messages  # noqa: E402
from bec_lib.endpoints import MessageEndpoints as BecEndpoints  # noqa: E402
from bec_lib.redis_connector import RedisConnector  # noqa: E402


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """``bec-server`` on a state dir and a free port; what is still running afterwards is stopped."""
    yield from stack_in(tmp_path)


def test_bec_server_start_reports_scihub_running_and_a_restart_request_restarts_the_stack(
    stack: Stack,
) -> None:
    started = stack.run("start", "--config", str(TEST_DEVICES))
    assert started.returncode == 0, started.stderr
    scihub_line = next(line for line in started.stdout.splitlines() if line.startswith("scihub "))
    assert "RUNNING" in scihub_line
    before = stack.pids()
    assert {"redis", "device-server", "scan-server", "scihub"} <= set(before)
    assert stack.run("check", "--service", "SciHub").returncode == 0
    status = stack.run("status")
    assert status.returncode == 0, status.stdout
    assert any("SciHub" in line and "RUNNING" in line for line in status.stdout.splitlines())

    client = redis.Redis.from_url(f"redis://{stack.redis}")
    beat = loads(client.get("user/services/status/SciHub"))
    assert beat.info["pid"] == before["scihub"]

    # what bec._request_server_restart() sends (plus a RID, which stock does not set)
    reply = _restart_reply(stack.redis)
    assert reply["accepted"] is True, reply

    log = stack.state / "logs" / "scihub-restart.log"
    wait_for(lambda: log.is_file() and "all services RUNNING again" in log.read_text(), 120.0, "the restart")
    after = stack.pids()
    assert after["redis"] == before["redis"] and is_alive(after["redis"])  # Redis left alone
    for key in ("device-server", "scan-server", "scihub"):
        assert after[key] != before[key] and is_alive(after[key]), key
        assert not is_alive(before[key]), key
    assert loads(client.get("user/services/status/SciHub")).info["pid"] == after["scihub"]
    assert stack.run("check").returncode == 0

    stopped = stack.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not any(is_alive(pid) for pid in after.values())


def _restart_reply(address: str) -> dict:
    rid = str(uuid.uuid4())
    conn = RedisConnector(address)
    try:
        conn.send(
            BecEndpoints.service_request(),
            bec_messages.ServiceRequestMessage(action="restart", metadata={"RID": rid}),
        )
        reply = conn.blocking_list_pop(BecEndpoints.service_response(rid), timeout_s=10)
    finally:
        conn.shutdown()
    assert reply is not None
    return reply.response


def test_restart_is_refused_under_a_foreground_bec_server(stack: Stack) -> None:
    proc = subprocess.Popen(
        [BEC_SERVER, "start", "--foreground", "--config", str(TEST_DEVICES),
         "--state-dir", str(stack.state), "--redis", stack.redis],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "all services RUNNING" in line:
                break
        else:
            raise AssertionError(f"foreground bec-server ended: {proc.wait()}")
        pids = stack.pids()
        response = _restart_reply(stack.redis)
        assert response["accepted"] is False and "--foreground" in response["message"]
        assert stack.pids() == pids and all(is_alive(pid) for pid in pids.values())
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
