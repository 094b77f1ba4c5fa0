"""Processes, devices and requests for the DAP system tests (observed with tests/stock_follower.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from service_proc import Proc
from stock_follower import stock_request

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


def service(name: str, redis_url: str, log_dir: Path, *extra: str) -> Proc:
    """``<name> --redis URL ...`` from this environment's scripts."""
    return Proc([str(BIN / name), "--redis", redis_url, *extra], log_dir / f"{name}.log").start()


def scan_request(messages: Any, scan_type: str, args: dict, **kwargs: Any) -> tuple[str, Any]:
    """A ScanQueueMessage as a stock client sends it, and its RID."""
    msg = stock_request(messages, scan_type, args, **kwargs)
    return msg.metadata["RID"], msg
