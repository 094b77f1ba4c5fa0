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

    python -m bench.bench_client [--rounds 7] [--moves 50] [--config config/devices/test.yaml]
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
from bench.common import Stats, Table, print_table, spawn, stop_group  # noqa: E402

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
        spawn(
            [str(bindir / "bec-device-server"), "--redis", redis.url, "--config", str(config)], tmp / "ds.log"
        ),
        spawn([str(bindir / "bec-scan-server"), "--redis", redis.url], tmp / "ss.log"),
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


def run(rounds: int = 7, moves: int = 50, config: Path = REPO / "config" / "devices" / "test.yaml") -> Table:
    """Client process start → ready, BECClient.start(), umv and RPC round trips through the client."""
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp_name:
        redis, procs = start_stack(Path(tmp_name), config)
        try:
            from bec_core.client import BECClient

            BECClient(redis.address, server_timeout=30).start().shutdown()  # the stack is up
            starts = process_start(redis.address, rounds)
            in_process = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                client = BECClient(redis.address).start()
                in_process.append(time.perf_counter() - t0)
                client.shutdown()
            with BECClient(redis.address) as bec:
                samx = bec.dev.samx
                for i in range(5):  # warm up
                    bec.umv(samx, i % 2)
                umvs, rpcs = [], []
                for i in range(moves):
                    t0 = time.perf_counter()
                    bec.umv(samx, 1.0 + (i % 2))
                    umvs.append(time.perf_counter() - t0)
                for _ in range(20):
                    t0 = time.perf_counter()
                    samx.read(cached=False)
                    rpcs.append(time.perf_counter() - t0)
                scans = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    bec.scans.line_scan(samx, -1, 1, steps=5, exp_time=0, relative=False).wait()
                    scans.append(time.perf_counter() - t0)
        finally:
            for proc in procs:
                stop_group(proc)
            redis.stop()
    rows: list[list[object]] = []
    for label, values in (
        ("client process start → ready", starts),
        ("  of which BECClient.start()", in_process),
        ("bec.umv(samx, x) round trip", umvs),
        ("samx.read(cached=False) RPC", rpcs),
        ("5-point line_scan, call → .wait() returns", scans),
    ):
        st = Stats(values).scaled(1e3)
        rows.append([label, st.n, st.median, st.p99, st.spread(2)])
    return Table(
        "Client (bec_core.client.BECClient, scripting API) [ms]",
        ["measure", "runs", "median ms", "p99 ms", "spread ms"],
        rows,
        notes=[
            "Start → ready: wall time from spawning `python -c 'BECClient(addr).start()'` until it prints "
            "that devices and scans are loaded (imports included). umv: an instant simulated motor, so this "
            "is the protocol round trip client → scan server → device server → client.",
        ],
        key="client",
        data={"start_s": statistics.median(starts), "umv_s": statistics.median(umvs)},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "devices" / "test.yaml")
    args = parser.parse_args(argv)
    print_table(run(args.rounds, args.moves, args.config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
