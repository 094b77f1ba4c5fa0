"""Processes and a stock-bec_lib observer for the DAP system tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
DEADLINE = 30.0
DAP = "DAPServer/LmfitService1D"
HEARTBEATS = ("DeviceServer", "ScanServer", DAP)

#: bpm4i is a Gaussian over samx (centre 5, sigma 1, amplitude 200) plus uniform noise in [0, 10).
CENTER, SIGMA, AMPLITUDE = 5.0, 1.0, 200.0
DEVICES = f"""
samx:
  deviceClass: bec_device_server.sim.SimPositioner
  deviceConfig: {{delay: 0, limits: [-50, 50], tolerance: 0.01}}
  readoutPriority: baseline
  enabled: true
  readOnly: false
bpm4i:
  deviceClass: bec_device_server.sim.SimMonitor
  deviceConfig:
    model: gaussian
    ref_motor: samx
    center: {CENTER}
    sigma: {SIGMA}
    amplitude: {AMPLITUDE}
    noise: uniform
    noise_multiplier: 10
  readoutPriority: monitored
  enabled: true
"""


class Proc:
    """An entry point run as a process, its output in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and the exit code (killed after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def tail(self, lines: int = 30) -> str:
        """The end of the output, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def service(name: str, redis_url: str, log_dir: Path, *extra: str) -> Proc:
    """``<name> --redis URL ...`` from this environment's scripts."""
    return Proc([str(BIN / name), "--redis", redis_url, *extra], log_dir / f"{name}.log")


class Observer:
    """Collects what a stock RedisConnector receives (its callbacks run in bec_lib's threads)."""

    def __init__(self) -> None:
        self.msgs: dict[str, list[Any]] = defaultdict(list)
        self.cond = threading.Condition()

    def cb(self, msg: Any, name: str) -> None:
        value = msg.value if hasattr(msg, "value") else msg
        if isinstance(value, dict) and "data" in value:  # a stream entry
            value = value["data"]
        with self.cond:
            self.msgs[name].extend(value if isinstance(value, list) else [value])
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        assert result, f"timed out after {timeout} s waiting for {what}"
        return result


def scan_request(messages: Any, scan_type: str, args: dict, **kwargs: Any) -> tuple[str, Any]:
    """A ScanQueueMessage as a stock client sends it, and its RID."""
    rid = str(uuid.uuid4())
    kwargs.setdefault("system_config", {"file_suffix": None, "file_directory": None})
    msg = messages.ScanQueueMessage(
        scan_type=scan_type,
        parameter={"args": args, "kwargs": kwargs},
        queue="primary",
        metadata={
            "file_suffix": None,
            "file_directory": None,
            "user_metadata": {},
            "RID": rid,
            "client_info": {"acl_user": "default", "username": "tester", "hostname": "here"},
        },
    )
    return rid, msg
