"""A real bec-core stack for client tests: redis-server, bec-device-server and bec-scan-server as processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bec_core.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[3]
TEST_DEVICES = REPO / "config" / "devices" / "test.yaml"


def entry_point(name: str) -> str:
    """The console script next to this interpreter (the venv's), else on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


class Stack:
    """Starts and stops the processes; ``address`` is ``host:port`` of its Redis."""

    def __init__(self, log_dir: Path, devices: Path = TEST_DEVICES) -> None:
        self.log_dir = log_dir
        self.devices = devices
        self.redis = RedisServer(persistence="none", data_dir=log_dir, log_file=log_dir / "redis.log")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def address(self) -> str:
        return self.redis.address

    def start(self, before_services: Callable[[str], None] | None = None) -> Stack:
        """Start Redis, call ``before_services(address)`` (to seed keys), then the two servers."""
        self.redis.start()
        if before_services is not None:
            before_services(self.redis.address)
        commands = {
            "device_server": [
                entry_point("bec-device-server"),
                "--redis",
                self.redis.url,
                "--config",
                str(self.devices),
            ],
            "scan_server": [entry_point("bec-scan-server"), "--redis", self.redis.url],
        }
        for name, cmd in commands.items():
            log = (self.log_dir / f"{name}.log").open("wb")
            self.procs[name] = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.redis.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.log_dir.glob("*_server.log"))


# --------------------------------------------------------------------------- fixtures (imported by the conftests)
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The running processes, one stack per test directory and session; stopped afterwards."""
    running = Stack(tmp_path_factory.mktemp("client-stack")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def bec(stack: Stack):  # type: ignore[no-untyped-def]
    """A started client (waits, event-driven, for the servers' heartbeats)."""
    from bec_core.client import BECClient

    client = BECClient(stack.address, server_timeout=30).start()
    try:
        yield client
    finally:
        client.shutdown()
