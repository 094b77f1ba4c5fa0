"""Helpers for ``bec-scihub`` run as a real process against a real redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import yaml
from waiting import POLL_S

from bec_core.config import RedisSettings
from bec_core.launcher import heartbeats
from bec_core.launcher.procs import stop_processes

BIN = Path(sys.executable).parent
SCIHUB = str(BIN / "bec-scihub")
#: Fast heartbeats so that expiry is seen quickly (the defaults are 3 s / 6 s).
FAST_TIMEOUTS = {"heartbeat_interval": 0.3, "heartbeat_expiry": 1.0, "shutdown": 5.0}


class SciHubProcess:
    """One ``bec-scihub`` process with its state directory and settings file."""

    def __init__(self, url: str, state: Path, config: Path, env: dict[str, str]) -> None:
        self.url = url
        self.state = state
        self.config = config
        self.log = state / "scihub-test.log"
        state.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SCIHUB, "--redis", url, "--state-dir", str(state), "--service-config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_running(
        self, timeout: float = 30.0, username: str | None = None, password: str | None = None
    ) -> None:
        """Wait for the SciHub heartbeat RUNNING from this process (event-driven)."""
        settings = RedisSettings(url=self.url, username=username, password=password)

        async def wait() -> bool:
            connector = heartbeats.connect(settings, name="scihub-test")
            try:
                return await heartbeats.wait_running(connector, {"SciHub": self.pid}, timeout)
            finally:
                await connector.close()

        assert asyncio.run(wait()), f"SciHub not RUNNING within {timeout} s:\n{self.output()}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, wait; the exit code."""
        if self.proc.poll() is None:
            stop_processes([self.pid], 10.0)
        return self.proc.wait(10)


def settings_file(path: Path, **scihub: Any) -> Path:
    """A services.yaml with fast heartbeats and the given ``scihub`` section."""
    path.write_text(yaml.safe_dump({"timeouts": FAST_TIMEOUTS, "scihub": scihub}))
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a file sink (none if the file does not exist yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll state nothing announces (a file, a flag set by a stock client thread) until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_S)


class ExpiryWatch:
    """Subscribed to Redis's keyspace notifications of one key; :meth:`wait` for its expiry."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        client.config_set("notify-keyspace-events", "Kx")
        self.pubsub = client.pubsub()
        self.pubsub.subscribe(f"__keyspace@0__:{key}")

    def wait(self, timeout: float) -> bool:
        """True once Redis announced the key expired; False after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if msg and msg["type"] == "message" and msg["data"] == b"expired":
                return True
        return False

    def close(self) -> None:
        self.pubsub.close()
