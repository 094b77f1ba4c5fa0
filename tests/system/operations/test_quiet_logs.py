"""Issue 16, item 12: normal use logs no ERROR and no WARNING.

Driven as a user does it: ``bec-server start`` (the demo devices), a scan
aborted while its motor moves, a second scan that completes, ``bec-server
stop``; then every service log is read. Before: the device server logged an
ophyd ``InvalidState`` traceback and "Future exception was never retrieved"
after the abort (a failed MoveStatus stops its device, whose stop finished the
move a second time), a WARNING for the cancelled instruction, every service a
WARNING for the SIGTERM of a normal stop, and the scan server "device server
lost" as an ERROR.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bec_core.endpoints import MessageEndpoints
from bec_core.launcher.procs import is_alive, stop_processes
from bec_core.messages import ScanQueueModificationMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "scan_server"))

from ss_harness import Recorder, all_endpoints, request, scan_id_of, submit, wait_services

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[3]
BEC_SERVER = str(Path(sys.executable).parent / "bec-server")
DEMO = REPO / "config" / "devices" / "demo.yaml"
DEADLINE = 60.0


@pytest.fixture
def where(tmp_path: Path) -> Iterator[list[str]]:
    """``--state-dir DIR --redis HOST:PORT`` of a stack; whatever still runs afterwards is killed."""
    args = ["--state-dir", str(tmp_path / "state"), "--redis", f"127.0.0.1:{free_port()}"]
    yield args
    run = tmp_path / "state" / "run"
    pids = [int(p.read_text()) for p in run.glob("*.pid")] if run.is_dir() else []
    stop_processes([pid for pid in pids if is_alive(pid)], 2.0)


def _bec_server(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BEC_SERVER, *args], capture_output=True, text=True, timeout=120, env=os.environ, cwd=cwd
    )


async def test_abort_and_stop_log_nothing_above_info(where: list[str], tmp_path: Path) -> None:
    started = _bec_server(tmp_path, "start", "--config", str(DEMO), *where)
    assert started.returncode == 0, started.stdout + started.stderr
    conn = await AsyncRedisConnector(where[-1]).connect()
    try:
        await wait_services(conn, ["ScanServer", "DeviceServer"], DEADLINE)
        rec = await Recorder(conn).follow(**all_endpoints())
        # 40 mm per step at 100 mm/s: the abort after the first point lands in a move
        msg = request("line_scan", {"samx": [-40, 40]}, steps=3, exp_time=0.1, relative=False)
        assert (await submit(conn, rec, msg)).accepted
        scan_id = await scan_id_of(rec, msg.metadata["RID"])
        await rec.wait_for(lambda: rec.segments(scan_id), "the first point", DEADLINE)
        await conn.send(
            MessageEndpoints.scan_queue_modification_request(),
            ScanQueueModificationMessage(action="abort", parameter={}, queue="primary"),
        )
        await rec.wait_for(lambda: "aborted" in rec.statuses(scan_id), "the abort", DEADLINE)
        done = request("line_scan", {"samx": [0, 1]}, steps=3, exp_time=0, relative=False)
        assert (await submit(conn, rec, done)).accepted
        done_id = await scan_id_of(rec, done.metadata["RID"])
        await rec.wait_for(lambda: "closed" in rec.statuses(done_id), "the second scan", DEADLINE)
    finally:
        await conn.close()
    stopped = _bec_server(tmp_path, "stop", *where)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    logs = sorted((tmp_path / "state" / "logs").glob("*.log"))
    assert any(p.name.startswith("device-server") for p in logs), logs
    loud = [
        f"{path.name}: {line}"
        for path in logs
        if not path.name.startswith("redis")  # redis-server's own notes (e.g. memory overcommit)
        for line in path.read_text(errors="replace").splitlines()
        if " WARNING " in line or " ERROR " in line or "| ERROR" in line or "Traceback" in line
    ]
    assert loud == [], "\n".join(loud[:30])
