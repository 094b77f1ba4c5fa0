"""Scan server end to end: request sent → last segment received, and the umv round trip.

    python -m bench.bench_scan_server [--repeats 3] [--big]

Starts a private redis-server (bec_core.redis_server.RedisServer), then
``bec-device-server`` and ``bec-scan-server`` as subprocesses, and measures
``line_scan(samx, -5, 5, steps=N, exp_time=0, relative=False)`` with one motor
(delay 0) and 4 monitors for N = 10, 100, 1000, and with 50 monitored devices;
fits per-point and fixed cost; and times ``umv`` (request → req_status). Also
reports the CPU seconds each process spent per point. Stock BEC 4.3.2, for
reference: ~16-22 ms per point + 0.45-1.0 s fixed; umv ~0.22 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import BECStatus, ScanMessage, ScanQueueMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer
from bench.common import print_table

BIN = Path(sys.executable).parent
MOTOR = """samx:
  deviceClass: ophyd_devices.SimPositioner
  deviceConfig: {delay: 0, limits: [-50, 50], tolerance: 0.01}
  readoutPriority: baseline
  enabled: true
  readOnly: false
  softwareTrigger: false
"""
MONITOR = """mon{i}:
  deviceClass: ophyd_devices.SimMonitor
  deviceConfig: null
  readoutPriority: monitored
  enabled: true
"""


def devices_yaml(monitors: int) -> str:
    """One motor and ``monitors`` monitored devices."""
    return MOTOR + "".join(MONITOR.format(i=i) for i in range(monitors))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of seconds over N."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    slope, intercept = statistics.linear_regression(xs, ys)
    return slope, intercept


class Stack:
    """Redis + device server + scan server for one device set."""

    def __init__(self, monitors: int, tmp: Path) -> None:
        self.tmp = tmp / f"m{monitors}"
        self.tmp.mkdir()
        (self.tmp / "devices.yaml").write_text(devices_yaml(monitors))
        self.redis = RedisServer(persistence="none", data_dir=self.tmp, log_file=self.tmp / "redis.log")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    async def __aenter__(self) -> Stack:
        self.redis.start()
        url = self.redis.url
        log = (self.tmp / "servers.log").open("ab")
        self.procs["device server"] = subprocess.Popen(
            [
                str(BIN / "bec-device-server"),
                "--redis",
                url,
                "--config",
                str(self.tmp / "devices.yaml"),
                "--log-level",
                "WARNING",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs["scan server"] = subprocess.Popen(
            [str(BIN / "bec-scan-server"), "--redis", url, "--log-level", "WARNING"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.conn = await AsyncRedisConnector(url).connect()
        for name in ("ScanServer", "DeviceServer"):
            async with self.conn.subscribe(MessageEndpoints.service_status(name)) as sub:
                msg = await self.conn.get(MessageEndpoints.service_status(name))
                while msg is None or msg.status != BECStatus.RUNNING:
                    msg = (await sub.get(60)).value
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(30)
        self.redis.stop()

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process."""
        pids = {name: p.pid for name, p in self.procs.items()}
        pids["redis"] = self.redis.pid or 0
        return {name: cpu_seconds(pid) for name, pid in pids.items()}

    async def line_scan(self, steps: int) -> float:
        """Seconds from sending the request to receiving its last segment."""
        msg = ScanQueueMessage(
            scan_type="line_scan",
            parameter={
                "args": {"samx": [-5, 5]},
                "kwargs": {"steps": steps, "exp_time": 0, "relative": False},
            },
            metadata={"RID": str(uuid.uuid4())},
        )
        async with self.conn.subscribe(MessageEndpoints.scan_segment(), maxsize=100_000) as sub:
            t0 = time.perf_counter()
            await self.conn.send(MessageEndpoints.scan_queue_request("default"), msg)
            while True:
                item = await sub.get(120)
                values = item.value if isinstance(item.value, list) else [item.value]
                if any(isinstance(v, ScanMessage) and v.point_id == steps - 1 for v in values):
                    return time.perf_counter() - t0

    async def umv(self, target: float) -> float:
        """Seconds from sending ``umv`` to its req_status entry."""
        rid = str(uuid.uuid4())
        msg = ScanQueueMessage(
            scan_type="umv",
            parameter={"args": {"samx": [target]}, "kwargs": {"relative": False}},
            metadata={"RID": rid},
        )
        key = MessageEndpoints.device_req_status(rid).endpoint
        t0 = time.perf_counter()
        await self.conn.send(MessageEndpoints.scan_queue_request("default"), msg)
        result = await self.conn.redis.xread({key: "0-0"}, block=30_000)
        elapsed = time.perf_counter() - t0
        assert result, "no req_status within 30 s"
        return elapsed


async def measure(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        sets = [(4, [10, 100, 1000]), (50, [10, 100, 1000] if args.big else [10, 100])]
        umv_times: list[float] = []
        cpu_rows = []
        for monitors, sizes in sets:
            async with Stack(monitors, tmp) as stack:
                await stack.line_scan(5)  # warm-up (imports, first connections)
                samples: list[tuple[int, float]] = []
                for steps in sizes:
                    times = [await stack.line_scan(steps) for _ in range(args.repeats)]
                    samples += [(steps, t) for t in times]
                    rows.append(
                        (
                            f"line_scan, {monitors} monitors",
                            steps,
                            min(times) * 1e3,
                            statistics.median(times) * 1e3,
                            statistics.median(times) / steps * 1e3,
                        )
                    )
                slope, intercept = fit(samples)
                rows.append(
                    (f"fit, {monitors} monitors", "per point / fixed", slope * 1e3, intercept * 1e3, "")
                )
                before = stack.cpu()
                n = sizes[-1]
                await stack.line_scan(n)
                after = stack.cpu()
                cpu_rows += [
                    (f"{name}, {monitors} monitors", (after[name] - before[name]) / n * 1e3) for name in after
                ]
                if monitors == 4:
                    await stack.umv(0.0)
                    umv_times = [await stack.umv(float(i % 5)) for i in range(args.umv)]
        rows.append(
            (
                "umv (request → req_status)",
                args.umv,
                min(umv_times) * 1e3,
                statistics.median(umv_times) * 1e3,
                "",
            )
        )
    print_table(
        "bec-scan-server: request sent → last segment received (stock BEC 4.3.2: 16-22 ms/point + 0.45-1.0 s; "
        "umv 0.22 s)",
        ["case", "N", "min ms", "median ms", "ms / point"],
        rows,
    )
    print_table("CPU per point (ms of CPU time, one N-point scan)", ["process", "ms / point"], cpu_rows)


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--umv", type=int, default=30, help="umv round trips to time")
    parser.add_argument("--big", action="store_true", help="also N=1000 with 50 monitors")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(measure(args))
    except ImportError:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
