"""The README's demo: ``bec demo`` starts the whole stack on an embedded Redis and runs a real scan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bec_core.redis_server import free_port

BIN = Path(sys.executable).parent


def test_demo_starts_the_stack_runs_a_scan_and_says_how_to_stop(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    state = tmp_path / "state"
    try:
        demo = subprocess.run(
            [str(BIN / "bec"), "--redis", address, "demo", "--state-dir", str(state), "--steps", "5"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "line_scan: closed" in demo.stdout
        assert "bec-server" in demo.stdout and "stop" in demo.stdout and "open the shell" in demo.stdout
        assert (state / "logs").is_dir()
    finally:
        stop = subprocess.run(
            [str(BIN / "bec-server"), "stop", "--state-dir", str(state)],
            capture_output=True, text=True, timeout=60,
        )
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert stop.stdout.count("stopped") == 4, stop.stdout  # redis and the three services
