"""Benchmark ``bec-server start``: cold start to all heartbeats RUNNING, and idle RSS per process.

Each round uses a fresh state directory and a free port, so the embedded Redis
is started too (cold). ``bec-server start`` returns when every heartbeat says
RUNNING; its wall time is the start time. Idle RSS (``VmRSS`` from
``/proc/<pid>/status``) is read after the services have published one more
heartbeat. Prints a table with the median of the rounds; ``--importtime``
also lists what dominates the services' import time.

    python -m bench.bench_stack [--rounds 3] [--config config/devices/demo.yaml] [--importtime]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bec_core.config import RedisSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.launcher.heartbeats import connect
from bec_core.launcher.procs import rss_kib
from bec_core.launcher.state import StateDir
from bec_core.redis_server import free_port
from bench.common import Stats, Table, print_table

REPO = Path(__file__).resolve().parents[1]
BEC_SERVER = str(Path(sys.executable).parent / "bec-server")
PROCESSES = ("redis", "device-server", "scan-server")


async def _next_heartbeat(url: str, name: str, timeout: float) -> None:
    """Wait for the next heartbeat publication of ``name`` (services are idle between beats)."""
    connector = connect(RedisSettings(url=url))
    try:
        async with connector.subscribe(MessageEndpoints.service_status(name)) as sub:
            await sub.get(timeout)
    finally:
        await connector.close()


def one_round(config: Path) -> tuple[float, dict[str, float]]:
    """Start the stack cold, measure, stop it; return (start seconds, RSS MiB per process)."""
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        state = StateDir(Path(tmp))
        url = f"127.0.0.1:{free_port()}"
        args = ["--state-dir", tmp, "--redis", url]
        t0 = time.perf_counter()
        done = subprocess.run(
            [BEC_SERVER, "start", *args, "--config", str(config)], capture_output=True, text=True
        )
        elapsed = time.perf_counter() - t0
        try:
            if done.returncode != 0:
                raise SystemExit(f"bec-server start failed ({done.returncode}):\n{done.stderr}")
            asyncio.run(_next_heartbeat(f"redis://{url}", "DeviceServer", 10.0))
            rss = {}
            for key in PROCESSES:
                pid = state.read_pid(key)
                kib = rss_kib(pid) if pid else None
                rss[key] = (kib or 0) / 1024
        finally:
            subprocess.run([BEC_SERVER, "stop", *args], capture_output=True, check=False)
    return elapsed, rss


def import_profile(module: str, top: int = 8) -> list[tuple[str, float]]:
    """The ``top`` slowest imports (cumulative ms) of ``python -X importtime -c 'import module'``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True
    ).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1:
            rows.append((name.strip(), int(cumulative) / 1000))
    return sorted(rows, key=lambda row: row[1], reverse=True)[:top]


def run(rounds: int = 3, config: Path = REPO / "config" / "devices" / "demo.yaml") -> Table:
    """Start → all RUNNING and idle RSS per process, ``rounds`` cold starts."""
    starts, rss_rounds = [], []
    for _ in range(rounds):
        elapsed, rss = one_round(config)
        starts.append(elapsed)
        rss_rounds.append(rss)
    st = Stats(starts)
    rows: list[list[object]] = [["`bec-server start` → all RUNNING (s)", st.median, st.p99, st.spread(2)]]
    for key in PROCESSES:
        r = Stats([round_[key] for round_ in rss_rounds])
        rows.append([f"idle RSS {key} (MiB)", r.median, r.p99, r.spread(1)])
    total = Stats([sum(round_.values()) for round_ in rss_rounds])
    rows.append(["idle RSS total (MiB)", total.median, total.p99, total.spread(1)])
    return Table(
        f"Stack: cold start and idle memory, {rounds} rounds, config {config.name}",
        ["measure", "median", "p99", "min-max"],
        rows,
        notes=[
            "Each round: fresh state directory and free port, so the embedded Redis starts cold too; "
            "`bec-server start` returns when every heartbeat says RUNNING; RSS = VmRSS after one more heartbeat.",
        ],
        key="stack",
        data={"start_s": st.median, "rss_total_mib": total.median},
    )


def main() -> int:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "devices" / "demo.yaml")
    parser.add_argument("--importtime", action="store_true", help="also profile the services' imports")
    args = parser.parse_args()
    print_table(run(args.rounds, args.config))
    if args.importtime:
        for module in ("bec_core.launcher.cli", "bec_device_server.cli", "bec_scan_server.cli"):
            print(f"\nslowest imports under {module} (cumulative ms):")
            for name, ms in import_profile(module):
                print(f"  {name:<44}{ms:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
