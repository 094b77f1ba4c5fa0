"""The README's demo: ``bec demo`` starts the whole stack on an embedded Redis and runs a real scan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bec_core.launcher.specs import SERVICES
from bec_core.redis_server import free_port

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).parent / "client"))


def test_demo_starts_the_stack_runs_a_scan_and_says_how_to_stop(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    state = tmp_path / "state"
    try:
        demo = subprocess.run(  # --redis after `demo` (issue 16, item 13) as well as before it
            [str(BIN / "bec"), "demo", "--redis", address, "--state-dir", str(state), "--steps", "5"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        first = demo.stdout.splitlines()[0]
        assert first == f"no Redis at {address}: starting the embedded one"  # item 11: not "Error 111"
        assert "Error 111" not in demo.stdout + demo.stderr and "cannot reach" not in demo.stderr
        assert "5 points, status closed" in demo.stdout
        assert "bec-server" in demo.stdout and "stop" in demo.stdout and "open the shell" in demo.stdout
        assert f"--redis {address} scan line_scan samx -1 1 --steps 11 --no-relative --plot" in demo.stdout
        assert (state / "logs").is_dir()
    finally:
        stop = subprocess.run(
            [str(BIN / "bec-server"), "stop", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert stop.stdout.count("stopped") == len(SERVICES) + 1, stop.stdout  # the services and Redis


def test_demo_against_a_stack_with_another_config_says_what_to_do(tmp_path: Path) -> None:
    """Item 13: no next steps that cannot work; say why and how to run the demo instead."""
    from stack import Stack

    devices = tmp_path / "other.yaml"
    devices.write_text(
        "mot1:\n  deviceClass: ophyd_devices.SimPositioner\n  deviceConfig: {limits: [-5, 5]}\n"
        "  readoutPriority: baseline\n  enabled: true\n"
    )
    other = Stack(tmp_path, devices=devices).start()
    try:
        from bec_core.client import BECClient

        BECClient(other.address, server_timeout=30).start().shutdown()  # wait for its heartbeats
        demo = subprocess.run(
            [str(BIN / "bec"), "demo", "--redis", other.address], capture_output=True, text=True, timeout=120
        )
    finally:
        other.stop()
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert "another device config (no samx, bpm4i)" in demo.stdout
    assert "run a scan:" not in demo.stdout and "scan line_scan samx" not in demo.stdout
