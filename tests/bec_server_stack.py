"""``bec-server`` run as a process on its own state directory and a free local port, for system tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bec_core.launcher.procs import is_alive, stop_processes
from bec_core.redis_server import free_port

REPO = Path(__file__).resolve().parents[1]
BEC_SERVER = str(Path(sys.executable).parent / "bec-server")
TEST_DEVICES = REPO / "config" / "devices" / "test.yaml"


class Stack:
    """One state directory and Redis address for ``bec-server`` commands."""

    def __init__(self, state: Path, redis: str, env: dict[str, str] | None = None) -> None:
        self.state = state
        self.redis = redis
        self.env = {**os.environ, **(env or {})}

    def run(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        """Run ``bec-server VERB ...`` with this stack's state dir and Redis."""
        return subprocess.run(
            [BEC_SERVER, *args, *self.where], capture_output=True, text=True, timeout=timeout, env=self.env
        )

    @property
    def where(self) -> list[str]:
        """``--state-dir DIR --redis HOST:PORT``."""
        return ["--state-dir", str(self.state), "--redis", self.redis]

    def pids(self) -> dict[str, int]:
        """Process ids in the PID files."""
        run = self.state / "run"
        return {p.stem: int(p.read_text()) for p in run.glob("*.pid")} if run.is_dir() else {}


def stack_in(tmp_path: Path) -> Iterator[Stack]:
    """A :class:`Stack` in ``tmp_path``; whatever it still runs afterwards is stopped (a fixture body)."""
    made = Stack(tmp_path / "state", f"127.0.0.1:{free_port()}")
    yield made
    stop_processes([pid for pid in made.pids().values() if is_alive(pid)], 2.0)
