"""Benchmark the client: process start → ready, and the ``umv`` round trip through the client.

Starts its own stack (redis-server, bec-device-server, bec-scan-server) on a
free port, then measures:

* **start → ready**: wall time from spawning ``python -c "BECClient(...).start()"``
  until it prints that devices and scans are loaded (imports included), median
  of ``--rounds``; also the in-process part (``BECClient.start()`` alone);
* **umv**: ``bec.umv(dev.samx, x)`` in a started client, alternating targets,
  median and p90 of ``--moves`` (an instant simulated motor: this is the
  protocol's round trip, client → scan server → device server → client);
* for context, ``dev.samx.read(cached=False)`` (an RPC) and a 5-point line scan.

    python bench/bench_client.py [--rounds 7] [--moves 50] [--config config/devices/test.yaml]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bec_core.redis_server import RedisServer  # noqa: E402
from bench.common import percentile, print_table  # noqa: E402

STOCK_BEC = {"start_s": 2.8, "umv_s": 0.22}
TARGET = {"start_s": 0.5, "umv_s": 0.010}
READY_SCRIPT = (
    "import sys; from bec_core.client import BECClient; "
    "c = BECClient(sys.argv[1], server_timeout=30).start(); "
    "print('ready', len(c.dev), len(c.scans.names()), flush=True); c.shutdown()"
)


def start_stack(tmp: Path, config: Path) -> tuple[RedisServer, list[subprocess.Popen[bytes]]]:
    """Redis plus both servers as processes."""
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    bindir = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [str(bindir / "bec-device-server"), "--redis", redis.url, "--config", str(config)],
            stdout=(tmp / "ds.log").open("wb"),
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [str(bindir / "bec-scan-server"), "--redis", redis.url],
            stdout=(tmp / "ss.log").open("wb"),
            stderr=subprocess.STDOUT,
        ),
    ]
    return redis, procs


def process_start(address: str, rounds: int) -> list[float]:
    """Seconds from spawning a client process to its 'ready' line."""
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", READY_SCRIPT, address], stdout=subprocess.PIPE, text=True
        )
        line = proc.stdout.readline() if proc.stdout else ""
        samples.append(time.perf_counter() - t0)
        proc.wait(30)
        if not line.startswith("ready"):
            raise RuntimeError(f"client did not get ready: {line!r}")
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "devices" / "test.yaml")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp_name:
        redis, procs = start_stack(Path(tmp_name), args.config)
        try:
            from bec_core.client import BECClient

            BECClient(redis.address, server_timeout=30).start().shutdown()  # the stack is up
            starts = process_start(redis.address, args.rounds)
            in_process = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                client = BECClient(redis.address).start()
                in_process.append(time.perf_counter() - t0)
                client.shutdown()
            with BECClient(redis.address) as bec:
                samx = bec.dev.samx
                for i in range(5):  # warm up
                    bec.umv(samx, i % 2)
                moves, rpcs = [], []
                for i in range(args.moves):
                    t0 = time.perf_counter()
                    bec.umv(samx, 1.0 + (i % 2))
                    moves.append(time.perf_counter() - t0)
                for _ in range(20):
                    t0 = time.perf_counter()
                    samx.read(cached=False)
                    rpcs.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                bec.scans.line_scan(samx, -1, 1, steps=5, exp_time=0, relative=False).wait()
                scan_s = time.perf_counter() - t0
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(20)
            redis.stop()

    start_med, umv_med = statistics.median(starts), statistics.median(moves)
    rows = [
        [
            "process start → ready (median)",
            start_med * 1e3,
            STOCK_BEC["start_s"] * 1e3,
            TARGET["start_s"] * 1e3,
        ],
        ["  of which BECClient.start()", statistics.median(in_process) * 1e3, "", ""],
        ["umv round trip (median)", umv_med * 1e3, STOCK_BEC["umv_s"] * 1e3, TARGET["umv_s"] * 1e3],
        ["umv round trip (p90)", percentile(moves, 90) * 1e3, "", ""],
        ["read(cached=False) RPC (median)", statistics.median(rpcs) * 1e3, "", ""],
        ["5-point line_scan, submit → wait() (one)", scan_s * 1e3, "", ""],
    ]
    print_table("bec-core client [ms]", ["measure", "bec-core", "stock BEC", "target"], rows)
    verdict = "met" if start_med < TARGET["start_s"] and umv_med < TARGET["umv_s"] else "NOT met"
    print(f"targets (start < {TARGET['start_s']} s, umv < {TARGET['umv_s'] * 1e3:g} ms): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
