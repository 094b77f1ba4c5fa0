"""Stock BEC 4.3.x, measured in the same run: its services against their own Redis, driven by stock bec_lib.

    python -m bench.bench_bec [--sizes 10 100 1000] [--repeats 3] [--venv ~/.cache/bec-core-bench/bec-venv]

Installs ``bec-server`` and ``bec-ipython-client`` 4.3.x with pip into a
separate virtual environment (reused when it already imports), starts a
private redis-server (bec_core.redis_server.RedisServer) on its own port and
the six stock services as processes from their entry points (bec-scan-server,
bec-scan-bundler, bec-device-server, bec-file-writer, bec-scihub, bec-dap,
each with ``--bec-server 127.0.0.1:PORT``), times start → every service
RUNNING and idle RSS, client start → ready, then runs ``bench/stock_driver.py``
with that venv's python (stock BECClient: loads the device YAML with
``config.update_session_with_file``, times line scans and umv). Every failure
is caught and returned as text so that the caller can still report bec-core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bec_core.redis_server import RedisServer
from bench.bench_scan_server import STOCK_SIMS, devices_yaml
from bench.common import Stats, rss_mib, spawn, stop_group

DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bec-core-bench" / "bec-venv"
SPEC = ["bec-server>=4.3,<4.4", "bec-ipython-client>=4.3,<4.4"]
SERVICES = (
    "bec-device-server",
    "bec-scan-server",
    "bec-scan-bundler",
    "bec-file-writer",
    "bec-scihub",
    "bec-dap",
)
STATUS_NAMES = ("DeviceServer", "ScanServer", "ScanBundler", "FileWriterManager", "SciHub", "DAPServer")
HERE = Path(__file__).resolve().parent
READY_SCRIPT = (
    "import sys, time; from bec_lib.client import BECClient; from bec_lib.service_config import ServiceConfig; "
    "c = BECClient(ServiceConfig(redis={'host': '127.0.0.1', 'port': int(sys.argv[1])}), forced=True); c.start(); "
    "print('ready', len(c.device_manager.devices), flush=True); c.shutdown()"
)


def ensure_venv(venv: Path, log: list[str], timeout: float = 1200.0) -> Path:
    """The venv's python, installing stock BEC first when it is missing (RuntimeError on failure)."""
    python = venv / "bin" / "python"
    probe = "import bec_server, bec_lib, bec_ipython_client; from importlib.metadata import version; print(version('bec_server'))"
    if python.exists():
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            log.append(f"reused {venv} (bec-server {done.stdout.strip()})")
            return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300
    )
    if made.returncode != 0:
        raise RuntimeError(f"python -m venv {venv} failed: {made.stderr.strip()[-500:]}")
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *SPEC], capture_output=True, text=True, timeout=timeout
    )
    if pip.returncode != 0:
        errors = [line for line in pip.stderr.splitlines() if "ERROR" in line or "error" in line]
        raise RuntimeError(
            f"pip install {' '.join(SPEC)} failed ({pip.returncode}): " + " | ".join(errors[-5:])
        )
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"stock BEC installed but does not import: {done.stderr.strip()[-500:]}")
    log.append(f"installed bec-server {done.stdout.strip()} into {venv} in {time.perf_counter() - t0:.0f} s")
    return python


def service_states(port: int) -> dict[str, str]:
    """Service name → status of the stock heartbeats (decoded with bec_lib from this venv)."""
    import redis
    from bec_lib.serialization import MsgpackSerialization

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        states = {}
        for key in client.keys("user/services/status/*"):
            raw = client.get(key)
            if raw is None:
                continue
            try:
                msg = MsgpackSerialization.loads(raw)
                states[key.decode().split("/")[3]] = getattr(msg.status, "name", str(msg.status))
            except Exception as exc:
                states[key.decode().split("/")[3]] = f"undecodable: {exc}"
        return states
    finally:
        client.close()


class StockStack:
    """Redis + the six stock BEC services as processes."""

    def __init__(self, python: Path, tmp: Path) -> None:
        self.bin = python.parent
        self.tmp = tmp
        self.redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, timeout: float = 120.0) -> float:
        """Start everything; seconds from spawning the services to all six RUNNING."""
        self.redis.start()
        port = self.redis.port
        t0 = time.perf_counter()
        for name in SERVICES:
            self.procs[name] = spawn(
                [str(self.bin / name), "--bec-server", f"127.0.0.1:{port}"],
                self.tmp / f"{name}.log",
                cwd=self.tmp,
            )
        deadline = t0 + timeout
        while True:
            states = service_states(port)
            if all(states.get(n) == "RUNNING" for n in STATUS_NAMES):
                return time.perf_counter() - t0
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead or time.perf_counter() > deadline:
                tails = "; ".join(
                    f"{n}: {self.log_tail(n)}"
                    for n in (dead or [s for s in SERVICES if "RUNNING" not in states.get(s, "")])
                )
                raise RuntimeError(
                    f"stock services not RUNNING ({'exited: ' + ', '.join(dead) if dead else 'timeout'}); "
                    f"states {states}; {tails}"
                )
            time.sleep(0.05)

    def log_tail(self, name: str, lines: int = 3) -> str:
        try:
            text = (self.tmp / f"{name}.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " / ".join(text[-lines:])

    def pids(self) -> dict[str, int]:
        return {**{n: p.pid for n, p in self.procs.items()}, "redis": self.redis.pid or 0}

    def stop(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            stop_group(proc, timeout=15)
        self.redis.stop()


def client_starts(python: Path, port: int, rounds: int, cwd: Path) -> list[float]:
    """Seconds from spawning a stock client process to its 'ready' line."""
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(python), "-c", READY_SCRIPT, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            cwd=cwd,  # stock bec_lib writes logs/ into the working directory
        )
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            samples.append(time.perf_counter() - t0)
            proc.wait(60)
        finally:
            stop_group(proc)
        if not line.startswith("ready"):
            raise RuntimeError(f"stock client did not get ready: {line!r}")
    return samples


def run(
    sizes: list[int],
    monitors_list: list[int],
    repeats: int,
    umv: int,
    client_rounds: int = 3,
    stack_rounds: int = 1,
    venv: Path = DEFAULT_VENV,
) -> dict[str, Any]:
    """Everything measured on stock BEC, or as much as worked plus ``errors``."""
    result: dict[str, Any] = {"log": [], "errors": []}
    t_all = time.perf_counter()
    try:
        python = ensure_venv(venv, result["log"])
    except Exception as exc:
        result["errors"].append(f"stock BEC not available: {exc}")
        return result
    result["versions"] = subprocess.run(
        [
            str(python),
            "-c",
            "from importlib.metadata import version as v; "
            "print(', '.join(f'{p} {v(p)}' for p in ('bec_server','bec_lib','bec_ipython_client','ophyd_devices','ophyd','redis')))",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-stock-") as tmp_dir:
        tmp = Path(tmp_dir)
        configs = []
        for monitors in monitors_list:
            path = tmp / f"devices{monitors}.yaml"
            path.write_text(devices_yaml(monitors, STOCK_SIMS))  # stock loads ophyd_devices' sims only
            configs.append(f"{monitors}={path}")
        starts: list[float] = []
        rss_rounds: list[dict[str, float]] = []
        for i in range(stack_rounds):
            round_dir = tmp / f"round{i}"
            round_dir.mkdir()
            stack = StockStack(python, round_dir)
            last = i == stack_rounds - 1
            try:
                starts.append(stack.start())
                time.sleep(3.0)  # idle: one more heartbeat
                rss_rounds.append({n: rss_mib(p) for n, p in stack.pids().items()})
                if not last:
                    continue
                result["start_s"] = starts
                result["rss_mib"] = rss_rounds
                try:
                    result["client_start_s"] = client_starts(
                        python, stack.redis.port, client_rounds, round_dir
                    )
                except Exception as exc:
                    result["errors"].append(f"client start: {exc}")
                pids = {
                    "scan server": stack.procs["bec-scan-server"].pid,
                    "scan bundler": stack.procs["bec-scan-bundler"].pid,
                    "device server": stack.procs["bec-device-server"].pid,
                    "file writer": stack.procs["bec-file-writer"].pid,
                    "redis": stack.redis.pid or 0,
                }
                cmd = [str(python), str(HERE / "stock_driver.py"), "--port", str(stack.redis.port)]
                cmd += ["--pids", ",".join(f"{k}={v}" for k, v in pids.items())]
                cmd += ["--configs", *configs, "--sizes", *map(str, sizes), "--repeats", str(repeats)]
                cmd += ["--umv", str(umv)]
                budget = 300 + repeats * sum(sizes) * 0.05 * len(monitors_list)
                with open(tmp / "driver.log", "w") as err:
                    done = subprocess.run(
                        cmd, stdout=subprocess.PIPE, stderr=err, text=True, timeout=budget, cwd=round_dir
                    )
                lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
                if not lines:
                    tail = (tmp / "driver.log").read_text(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError(
                        f"stock driver exited {done.returncode} without a result: {' / '.join(tail)}"
                    )
                driver = json.loads(lines[-1])
                result["driver"] = driver
                result["errors"] += [f"driver: {e}" for e in driver.get("errors", [])]
            except Exception as exc:
                result["errors"].append(f"{type(exc).__name__}: {exc}")
            finally:
                stack.stop()
        result.setdefault("start_s", starts)
        result.setdefault("rss_mib", rss_rounds)
    result["seconds"] = time.perf_counter() - t_all
    return result


def summary(result: dict[str, Any]) -> list[str]:
    """A few lines for a terminal."""
    lines = list(result["log"]) + [f"error: {e}" for e in result["errors"]]
    if result.get("start_s"):
        lines.append(f"stack start → RUNNING: {statistics.median(result['start_s']):.2f} s")
    if result.get("rss_mib"):
        last = result["rss_mib"][-1]
        lines.append("idle RSS MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in last.items()))
    if result.get("client_start_s"):
        lines.append(f"client start → ready: {statistics.median(result['client_start_s']):.2f} s")
    driver = result.get("driver", {})
    for monitors, rows in driver.get("scans", {}).items():
        for steps, times in rows.items():
            lines.append(
                f"line_scan {monitors} monitors N={steps}: median {Stats(times).median * 1e3:.0f} ms"
            )
    if driver.get("umv_s"):
        lines.append(f"umv: median {statistics.median(driver['umv_s']) * 1e3:.1f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--monitors", type=int, nargs="+", default=[4, 50])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--umv", type=int, default=20)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    args = parser.parse_args()
    result = run(args.sizes, args.monitors, args.repeats, args.umv, venv=args.venv)
    print("\n".join(summary(result)))


if __name__ == "__main__":
    main()
