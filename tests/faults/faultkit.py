"""The fault tests' stack: redis-server with its append-only file, and the services as processes.

Redis can be SIGKILLed, SIGSTOPped and restarted on the same port with the same
data directory (so the AOF is reloaded); the services are the real entry
points, each logging into the test's directory.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import yaml
from ss_harness import Proc, device_server, scan_server, write_devices

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceInstructionMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer
from bec_core.serialization import loads

STREAM = MessageEndpoints.device_instructions().endpoint


async def pending_instructions(client: AsyncRedisConnector) -> list[DeviceInstructionMessage]:
    """The instructions delivered to the device server's group and not acknowledged."""
    rows = await client.redis.xpending_range(STREAM, "device_server", "-", "+", 100)
    out = []
    for row in rows:
        found = await client.redis.xrange(STREAM, row["message_id"], row["message_id"])
        if found:
            out.append(loads(found[0][1][b"data"]))
    return out


class FaultStack:
    """Redis + bec-device-server + bec-scan-server in one temporary directory."""

    def __init__(self, tmp: Path, persistence: str = "aof", unixsocket: bool = False) -> None:
        self.tmp = tmp
        self.redis = RedisServer(
            persistence=persistence,  # type: ignore[arg-type]
            data_dir=tmp / "redis-data",
            log_file=tmp / "redis.log",
            unixsocket=tmp / "redis.sock" if unixsocket else None,  # then the only way in: url is unix://
        )
        self.config = write_devices(tmp / "devices.yaml", extra="")
        self.service_config: Path | None = None
        self.ds: Proc | None = None
        self.ss: Proc | None = None

    # ------------------------------------------------------------------ parts
    def settings(self, **sections: dict[str, Any]) -> Path:
        """Write a service settings file (``--service-config``) used by the next started services."""
        self.service_config = self.tmp / "services.yaml"
        self.service_config.write_text(yaml.safe_dump(sections))
        return self.service_config

    def start_redis(self) -> None:
        """Start (or restart, same port and data directory) the redis-server."""
        self.redis.start()

    def start_ds(self) -> Proc:
        """Start a device server (a new process each call; the log is appended)."""
        proc = device_server(self.redis.url, self.config, self.tmp)
        if self.service_config is not None:
            proc.args += ["--service-config", str(self.service_config)]
        self.ds = proc.start()
        return self.ds

    def start_ss(self) -> Proc:
        """Start a scan server."""
        self.ss = scan_server(self.redis.url, self.tmp, self.service_config).start()
        return self.ss

    def start(self) -> FaultStack:
        """Redis (unless it runs), then both services."""
        if not self.redis.running:
            self.start_redis()
        self.start_ds()
        self.start_ss()
        return self

    # ------------------------------------------------------------------ faults
    def kill_redis(self) -> None:
        """SIGKILL the redis-server (nothing is flushed beyond what the AOF already has)."""
        pid = self.redis.pid
        assert pid is not None, "redis is not running"
        os.kill(pid, signal.SIGKILL)
        self.redis.stop()  # reaps the process

    def freeze_redis(self) -> None:
        """SIGSTOP the redis-server: connections stay open, nothing is answered."""
        assert self.redis.pid is not None
        os.kill(self.redis.pid, signal.SIGSTOP)

    def thaw_redis(self) -> None:
        """SIGCONT a frozen redis-server."""
        assert self.redis.pid is not None
        os.kill(self.redis.pid, signal.SIGCONT)

    def logs(self) -> str:
        """The ends of both services' logs (for failure messages)."""
        parts = []
        for name in ("ds.log", "ss.log"):
            path = self.tmp / name
            if path.exists():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        return "\n".join(parts)

    def close(self) -> None:
        """Stop everything that still runs."""
        if self.redis.pid is not None:
            try:
                os.kill(self.redis.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        for proc in (self.ss, self.ds):
            if proc is not None and proc.proc is not None:
                proc.stop(timeout=15)
        self.redis.stop()
