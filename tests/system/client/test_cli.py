"""The ``bec`` command against real processes: scan, status, monitor, get, queue."""

from __future__ import annotations

import os
import subprocess
import sys

import pexpect
import pytest
from stack import Stack, entry_point

pytestmark = pytest.mark.system
BEC = entry_point("bec")


def run(stack: Stack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "TERM": "dumb"}
    return subprocess.run(
        [BEC, "--redis", stack.address, "--server-timeout", "30", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_scan_prints_a_table_and_exits_0(stack: Stack, tmp_path) -> None:
    png, csv_path = tmp_path / "out.png", tmp_path / "out.csv"
    result = run(
        stack,
        "scan",
        "line_scan",
        "samx",
        "-2",
        "2",
        "--steps",
        "5",
        "--exp-time",
        "0",
        "--no-relative",
        "--save-plot",
        str(png),
        "--csv",
        str(csv_path),
    )
    assert result.returncode == 0, result.stderr + stack.logs()
    assert "5 points, status closed" in result.stdout
    rows = [
        line for line in result.stdout.splitlines() if line.split()[:1] in (["0"], ["1"], ["2"], ["3"], ["4"])
    ]
    assert len(rows) == 5  # five rows, printed once (live)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert len(csv_path.read_text().splitlines()) == 6


def test_scan_with_live_terminal_plot(stack: Stack) -> None:
    result = run(stack, "scan", "line_scan", "samx", "-2", "2", "--steps", "7", "--relative", "--plot")
    assert result.returncode == 0, result.stderr
    assert "bpm" in result.stdout or "diode" in result.stdout  # the plot's axis label


def test_bad_scan_input_is_one_line(stack: Stack) -> None:
    result = run(stack, "scan", "line_scan", "samq", "-2", "2", "--steps", "5", "--no-relative")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: unknown device 'samq'")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run(stack, "scan", "line_scn", "samx", "0", "1")
    assert result.returncode == 2 and "unknown scan 'line_scn'" in result.stderr  # usage error
    result = run(stack, "scan", "line_scan", "samx", "a", "1", "--steps", "2", "--no-relative")
    assert result.returncode == 2 and "expected float, got 'a'" in result.stderr
    result = run(stack, "scan", "line_scan", "samx", "0", "100", "--steps", "2", "--no-relative")
    assert result.returncode == 1 and "limits" in result.stderr  # refused by the scan server


def test_status(stack: Stack) -> None:
    result = run(stack, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("ScanServer", "DeviceServer", "RUNNING", "queue primary"):
        assert name in result.stdout


def test_get_and_queue(stack: Stack) -> None:
    result = run(stack, "get", "user/scan_number")
    assert result.returncode == 0 and "VariableMessage" in result.stdout
    paused = run(stack, "queue", "pause")
    assert paused.returncode == 0 and "queue is now PAUSED" in paused.stdout
    resumed = run(stack, "queue", "resume")
    assert resumed.returncode == 0 and "queue is now RUNNING" in resumed.stdout
    abort = run(stack, "queue", "abort")
    assert abort.returncode == 1 and "nothing is running" in abort.stderr


def test_monitor_shows_decoded_messages(stack: Stack) -> None:
    monitor = pexpect.spawn(
        BEC,
        ["--redis", stack.address, "monitor", "info/scans/scan_status", "--count", "2", "--timeout", "60"],
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
        env={**os.environ, "TERM": "dumb", "COLUMNS": "200"},
    )
    monitor.expect("monitoring")
    assert run(stack, "scan", "line_scan", "samx", "0", "1", "--steps", "2", "--no-relative").returncode == 0
    monitor.expect("ScanStatusMessage")
    monitor.expect(pexpect.EOF)
    monitor.close()
    assert monitor.exitstatus == 0


def test_no_stack(tmp_path) -> None:
    from bec_core.redis_server import free_port

    result = subprocess.run(
        [BEC, "--redis", f"127.0.0.1:{free_port()}", "status"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "bec-server start" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sys.executable  # the venv interpreter ran the entry point
