"""Device server start-up with bec_lib's demo config (216 devices, 13 ophyd_devices classes): bec-core vs stock.

    python -m bench.bench_startup [--rounds 5] [--stock-venv /work/stockvenv] [--port 23510]

Both device servers are measured in the same invocation, rounds alternating
(bec-core, stock, bec-core, ...), each against a private redis-server of its
own (flushed before every round), on the same YAML file (bec_lib's
``configs/demo_config.yaml`` of the stock venv, every device enabled):

* bec-core: ``bec-device-server --redis URL --config demo_config.yaml``;
* stock: the config is first written to ``info/devices/config`` as stock's
  config helper leaves it (an ``AvailableResourceMessage``, encoded by stock
  bec_lib in the stock venv), then ``bec-device-server --bec-server HOST:PORT``
  of the stock venv, which loads it from Redis at start and turns RUNNING once
  every device is built (``DeviceServer.start``).

Measured per round: seconds from spawning the process to its heartbeat
(``user/services/status/DeviceServer``) saying RUNNING, polled every 5 ms, and
the process's CPU seconds (utime+stime, /proc) at that moment. Also, once per
venv, the CPU seconds of ``import ophyd_devices`` alone in a fresh interpreter
(median of 3): the floor that neither side can go under.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bec_core.messages import BECStatus
from bec_core.redis_server import RedisServer
from bec_core.serialization import loads
from bench.common import Stats, Table, cpu_seconds, print_table, spawn, stop_group

BIN = Path(sys.executable).parent
STATUS_KEY = "user/services/status/DeviceServer"
WRITE_CONFIG = """
import sys, yaml, redis
from bec_lib import messages
from bec_lib.endpoints import MessageEndpoints
from bec_lib.serialization import MsgpackSerialization
raw = yaml.safe_load(open(sys.argv[2]))
devices = [{**dev, "name": name, "enabled": True} for name, dev in raw.items()]
msg = messages.AvailableResourceMessage(resource=devices)
redis.Redis(port=int(sys.argv[1])).set(MessageEndpoints.device_config().endpoint, MsgpackSerialization.dumps(msg))
"""
IMPORT_CPU = "import time; t = time.process_time(); import ophyd_devices; print(time.process_time() - t)"


def default_stock_venv() -> Path:
    """``$BEC_STOCK_VENV``, else /work/stockvenv if present, else the benchmark's cached stock venv."""
    if os.environ.get("BEC_STOCK_VENV"):
        return Path(os.environ["BEC_STOCK_VENV"])
    if Path("/work/stockvenv/bin/bec-device-server").exists():
        return Path("/work/stockvenv")
    from bench.bench_bec import DEFAULT_VENV

    return DEFAULT_VENV


def demo_config(stock_python: Path) -> Path:
    """bec_lib's ``demo_config.yaml`` (of the stock venv: the same file stock's ``load_demo_config`` loads)."""
    out = subprocess.run(
        [str(stock_python), "-c", "import bec_lib, pathlib; print(pathlib.Path(bec_lib.__file__).parent)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip()) / "configs" / "demo_config.yaml"


def time_to_running(
    cmd: list[str], port: int, log: Path, cwd: Path, timeout: float = 180.0
) -> tuple[float, float, int]:
    """(seconds spawn → heartbeat RUNNING, process CPU seconds then, ``info/devices/info/*`` keys then);
    stops the process afterwards."""
    client = redis.Redis(port=port)
    t0 = time.perf_counter()
    proc = spawn(cmd, log, cwd=cwd)
    try:
        deadline = t0 + timeout
        while True:
            raw = client.get(STATUS_KEY)
            if raw is not None and getattr(loads(raw), "status", None) == BECStatus.RUNNING:
                elapsed, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid)
                return elapsed, cpu, sum(1 for _ in client.scan_iter("info/devices/info/*", count=1000))
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}; see {log}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{cmd[0]} not RUNNING within {timeout:g} s; see {log}")
            time.sleep(0.005)
    finally:
        stop_group(proc)
        client.close()


def import_cpu(python: Path, runs: int = 3) -> float:
    """Median CPU seconds of ``import ophyd_devices`` in a fresh interpreter."""
    values = [
        float(subprocess.run([str(python), "-c", IMPORT_CPU], capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(values)


def measure(rounds: int, stock_venv: Path, port: int | None = None) -> dict[str, Any]:
    """Both sides, ``rounds`` alternating cold starts each; raw samples and the import floor."""
    stock_python = stock_venv / "bin" / "python"
    config = demo_config(stock_python)
    out: dict[str, Any] = {"ours": [], "stock": [], "errors": [], "config": str(config)}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp_dir:
        tmp = Path(tmp_dir)
        ours_redis = RedisServer(port=port, persistence="none", data_dir=tmp / "r1", log_file=tmp / "r1.log")
        stock_redis = RedisServer(
            port=None if port is None else port + 1,
            persistence="none",
            data_dir=tmp / "r2",
            log_file=tmp / "r2.log",
        )
        (tmp / "r1").mkdir()
        (tmp / "r2").mkdir()
        with ours_redis, stock_redis:
            ours_cmd = [str(BIN / "bec-device-server"), "--redis", ours_redis.url, "--config", str(config)]
            stock_cmd = [
                str(stock_venv / "bin" / "bec-device-server"),
                "--bec-server",
                f"127.0.0.1:{stock_redis.port}",
            ]
            for i in range(rounds):
                redis.Redis(port=ours_redis.port).flushall()
                out["ours"].append(time_to_running(ours_cmd, ours_redis.port, tmp / f"ours{i}.log", tmp))
                if out["errors"]:
                    continue
                try:
                    redis.Redis(port=stock_redis.port).flushall()
                    subprocess.run(
                        [str(stock_python), "-c", WRITE_CONFIG, str(stock_redis.port), str(config)],
                        check=True,
                        capture_output=True,
                    )
                    out["stock"].append(
                        time_to_running(stock_cmd, stock_redis.port, tmp / f"stock{i}.log", tmp)
                    )
                except Exception as exc:  # stock failing is reported, bec-core still measured
                    out["errors"].append(f"stock device server: {type(exc).__name__}: {exc}")
    out["import_ours"] = import_cpu(Path(sys.executable))
    out["import_stock"] = import_cpu(stock_python)
    return out


def table(result: dict[str, Any], rounds: int) -> Table:
    """The side-by-side table of :func:`measure`'s result."""
    ours_wall, ours_cpu = (Stats([r[i] for r in result["ours"]]) for i in (0, 1))
    stock_wall, stock_cpu = (Stats([r[i] for r in result["stock"]]) for i in (0, 1))

    def ratio(a: Stats, b: Stats) -> str:
        return f"{b.median / a.median:.1f}x faster" if a.values and b.values else ""

    rows: list[list[object]] = [
        [
            "spawn → RUNNING (s)",
            ours_wall.median,
            ours_wall.spread(2),
            stock_wall.median,
            stock_wall.spread(2),
            ratio(ours_wall, stock_wall),
        ],
        [
            "CPU of the process at RUNNING (s)",
            ours_cpu.median,
            ours_cpu.spread(2),
            stock_cpu.median,
            stock_cpu.spread(2),
            ratio(ours_cpu, stock_cpu),
        ],
        [
            "devices with device_info at RUNNING",
            min((r[2] for r in result["ours"]), default=0),
            "",
            min((r[2] for r in result["stock"]), default=0),
            "",
            "",
        ],
        ["`import ophyd_devices` alone, CPU (s)", result["import_ours"], "", result["import_stock"], "", ""],
    ]
    notes = [
        f"Config: {result['config']} (216 devices, every one enabled), {rounds} cold starts per side, "
        "alternating; each side on its own private redis-server, flushed before every start. bec-core: "
        "`bec-device-server --redis URL --config FILE`; stock: the config written to `info/devices/config` "
        "first, then stock's `bec-device-server --bec-server HOST:PORT` (it loads the config from Redis and "
        "turns RUNNING when every device is built). RUNNING = the service's heartbeat key says RUNNING "
        "(polled every 5 ms); CPU = utime+stime of the process then.",
        "The import row: CPU seconds of `import ophyd_devices` alone in a fresh interpreter of each venv "
        "(median of 3): ophyd, bec_lib, lmfit, scipy; neither device server can start faster than that.",
    ]
    notes += result["errors"]
    return Table(
        "Device server start-up, bec_lib's demo config (216 devices): bec-core vs stock BEC 4.3 (same run)",
        ["measure", "bec-core median", "spread", "stock median", "stock spread", "bec-core vs stock"],
        rows,
        notes=notes,
        key="startup",
        data={"ours": result["ours"], "stock": result["stock"]},
    )


def run(rounds: int = 5, stock_venv: Path | None = None, port: int | None = None) -> Table:
    """Measure and return the table (the entry point of ``python -m bench``)."""
    venv = stock_venv or default_stock_venv()
    return table(measure(rounds, venv, port), rounds)


def main() -> int:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--stock-venv", type=Path, default=None, help="default: $BEC_STOCK_VENV, /work/stockvenv"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="Redis ports PORT and PORT+1 (default: free ones)"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    result = run(args.rounds, args.stock_venv, args.port)
    print(result.to_markdown()) if args.markdown else print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
