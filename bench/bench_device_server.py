"""Benchmark the device server: ``read`` latency, or the CPU cost of ``point`` instructions.

Default mode: one ``read`` instruction of N monitored sim devices, request →
final reply, compared with N sequential raw redis-py SET+PUBLISH round trips
(what publishing N readings one by one would cost at best), measured in the
same run against the same local redis-server. The device server runs
in-process on the same uvloop.

    /work/venv/bin/python bench/bench_device_server.py [--repeat 200]

``--point`` mode: ``bec-device-server`` runs as its own process (one motor with
``delay: 0`` and M SimMonitors), and a lean driver sends ``point`` instructions
one after the other exactly as the scan server does for a step scan (set the
motor, read the motor and every monitor), waiting for each final reply.
Reported per M: points per second and the CPU milliseconds per point of the
device server (and of redis-server), utime+stime from /proc/<pid>/stat, median
[min-max] over ``--repeats`` runs of ``--points`` points each. ``--profile FILE`` runs the server under cProfile
(the stats of the last device set land in FILE; slower, for finding hot spots).

    /work/venv/bin/python bench/bench_device_server.py --point [--monitors 4 50] \
        [--points 1000] [--repeats 7]
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

import ormsgpack
import redis.asyncio as aioredis
from bec_device_server.config import validate_devices
from bec_device_server.server import DeviceServer

from bec_core import messages
from bec_core.config import load_settings
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer
from bec_core.serialization import CODEC_KEY, dumps, loads

SIZES = (1, 5, 50, 200)


def devices(n: int) -> dict:
    return {
        f"mon{i}": {
            "deviceClass": "ophyd_devices.SimMonitor",
            "readoutPriority": "monitored",
            "enabled": True,
        }
        for i in range(n)
    }


async def time_reads(conn: AsyncRedisConnector, names: list[str], repeat: int) -> list[float]:
    """Seconds from XADD of a read instruction to its final reply, ``repeat`` times."""
    out: list[float] = []
    async with conn.subscribe(MessageEndpoints.device_instructions_response()) as sub:
        for _ in range(repeat + 5):
            instr_id = str(uuid.uuid4())
            msg = messages.DeviceInstructionMessage(
                device=names, action="read", parameter={}, metadata={"device_instr_id": instr_id}
            )
            raw = dumps(msg)
            start = time.perf_counter()
            await conn.redis.xadd(
                "internal/devices/instructions", {"data": raw}, maxlen=10000, approximate=True
            )
            while True:
                reply = (await sub.get(timeout=10)).value
                if reply.instruction_id == instr_id:
                    break
            out.append(time.perf_counter() - start)
            assert reply.status == "completed", reply.error_info
    return out[5:]  # warm-up dropped


async def time_raw(url: str, n: int, repeat: int) -> list[float]:
    """Seconds for N sequential SET+PUBLISH round trips with plain redis-py."""
    client = aioredis.Redis.from_url(url)
    payload = dumps(messages.DeviceMessage(signals={"x": {"value": 1.0, "timestamp": 1.0}}))
    out = []
    for _ in range(repeat + 5):
        start = time.perf_counter()
        for i in range(n):
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(f"bench/raw/{i}", payload)
                pipe.publish(f"bench/raw/{i}", payload)
                await pipe.execute()
        out.append(time.perf_counter() - start)
    await client.aclose()
    return out[5:]


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 2 else values[0] * 1000


async def main(repeat: int) -> None:
    with RedisServer(persistence="none") as redis_server:
        settings = load_settings(
            env={}, overrides={"redis": {"url": redis_server.url}, "log_level": "WARNING"}
        )
        server = DeviceServer(settings, validate_devices(devices(max(SIZES)), "bench"))
        task = asyncio.create_task(server.run())
        await asyncio.wait_for(server.ready.wait(), 60)
        conn = await AsyncRedisConnector(redis_server.url).connect()
        rows = []
        for n in SIZES:
            names = [f"mon{i}" for i in range(n)]
            reps = repeat if n < 200 else max(20, repeat // 4)
            ds = await time_reads(conn, names, reps)
            raw = await time_raw(redis_server.url, n, max(10, reps // (1 if n < 50 else 4)))
            rows.append(
                (
                    n,
                    statistics.median(ds) * 1000,
                    ms(ds, 90),
                    statistics.median(ds) * 1000 / n,
                    statistics.median(raw) * 1000,
                )
            )
        await conn.close()
        server.request_stop("bench over")
        await task
    print(f"\nread instruction, N SimMonitors (device server in-process, uvloop), {repeat} repeats")
    print(
        f"{'N':>5} | {'p50 ms':>8} | {'p90 ms':>8} | {'ms/device':>9} | {'N raw SET+PUBLISH ms':>20} | speed-up"
    )
    print("-" * 76)
    for n, p50, p90, per, raw in rows:
        print(f"{n:>5} | {p50:>8.3f} | {p90:>8.3f} | {per:>9.4f} | {raw:>20.3f} | {raw / p50:>6.1f}x")


# --------------------------------------------------------------------------- point mode
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
_STREAM = MessageEndpoints.device_instructions().endpoint
_REPLY = MessageEndpoints.device_instructions_response().endpoint


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def point_instruction(monitors: int, point_id: int, scan_id: str) -> tuple[str, bytes]:
    """(device_instr_id, encoded entry) of one step-scan point as the scan server sends it."""
    read = ["samx", *(f"mon{i}" for i in range(monitors))]
    instr_id = str(uuid.uuid4())
    msg = messages.DeviceInstructionMessage(
        device=sorted(read),
        action="point",
        parameter={
            "set": {"samx": -5.0 + 10.0 * (point_id % 100) / 99},
            "settling_time": 0.0,
            "trigger": [],
            "min_wait": 0.0,
            "settling_time_after_trigger": 0.0,
            "read": read,
        },
        metadata={
            "RID": "bench-rid",
            "queue_id": "bench-queue",
            "scan_id": scan_id,
            "point_id": point_id,
            "readout_priority": "monitored",
            "timeout": 40.0,
            "device_instr_id": instr_id,
        },
    )
    return instr_id, dumps(msg)


class PointDriver:
    """Sends ``point`` instructions one at a time and waits for each final reply (raw redis-py)."""

    def __init__(self, url: str, monitors: int) -> None:
        self.url = url
        self.monitors = monitors
        self.client = aioredis.Redis.from_url(url)
        self.pubsub = self.client.pubsub()
        self.point_id = 0
        self.scan_id = str(uuid.uuid4())

    async def start(self) -> None:
        await self.pubsub.subscribe(_REPLY)
        while (await self.pubsub.get_message(timeout=1.0)) is None:
            pass  # the subscribe confirmation

    async def run(self, n: int, check_every: int = 0) -> None:
        """``n`` points; the reply of each is checked for status and id (fully decoded every ``check_every``)."""
        for _ in range(n):
            instr_id, raw = point_instruction(self.monitors, self.point_id, self.scan_id)
            await self.client.xadd(_STREAM, {"data": raw}, maxlen=10000, approximate=True)
            while True:
                msg = await self.pubsub.get_message(timeout=30.0)
                if msg is None:
                    raise TimeoutError(f"no reply to point {self.point_id} within 30 s")
                if msg["type"] != "message":
                    continue
                data = ormsgpack.unpackb(msg["data"])[CODEC_KEY]["data"]
                if data["instruction_id"] != instr_id or data["status"] == "running":
                    continue
                if data["status"] != "completed":
                    raise RuntimeError(f"point {self.point_id} failed: {data['error_info']}")
                if check_every and self.point_id % check_every == 0:
                    reply = loads(msg["data"])
                    assert isinstance(reply, messages.DeviceInstructionResponse)
                    assert set(reply.result) == {"samx", *(f"mon{i}" for i in range(self.monitors))}
                break
            self.point_id += 1

    async def close(self) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()


async def wait_running(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until ``user/services/status/DeviceServer`` says RUNNING (the process must not exit)."""
    conn = await AsyncRedisConnector(url).connect()
    try:
        deadline = time.monotonic() + timeout
        endpoint = MessageEndpoints.service_status("DeviceServer")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bec-device-server exited with {proc.returncode}")
            msg = await conn.get(endpoint)
            if msg is not None and msg.status == messages.BECStatus.RUNNING:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("bec-device-server did not start")
    finally:
        await conn.close()


async def bench_points(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir, RedisServer(persistence="none") as redis_server:
        tmp = Path(tmp_dir)
        for monitors in args.monitors:
            config = tmp / f"devices{monitors}.yaml"
            config.write_text(MOTOR + "".join(MONITOR.format(i=i) for i in range(monitors)))
            prefix = [sys.executable]
            if args.profile:
                prefix += ["-m", "cProfile", "-o", str(args.profile)]
            cmd = [*prefix, "-m", "bec_device_server.cli", "--redis", redis_server.url]
            cmd += ["--config", str(config), "--log-level", "WARNING"]
            log = (tmp / f"server{monitors}.log").open("wb")
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            try:
                await wait_running(redis_server.url, proc)
                driver = PointDriver(redis_server.url, monitors)
                await driver.start()
                await driver.run(args.warmup, check_every=50)
                rates, cpus, redis_cpus = [], [], []
                redis_pid = redis_server.pid or 0
                for _ in range(args.repeats):
                    cpu0, rcpu0 = cpu_seconds(proc.pid), cpu_seconds(redis_pid)
                    t0 = time.perf_counter()
                    await driver.run(args.points)
                    wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
                    rates.append(args.points / wall)
                    cpus.append(cpu / args.points * 1e3)
                    redis_cpus.append((cpu_seconds(redis_pid) - rcpu0) / args.points * 1e3)
                await driver.run(10, check_every=1)
                await driver.close()
                rows.append((monitors, rates, cpus, redis_cpus))
            finally:
                proc.terminate()
                proc.wait(60)
                log.close()
    print(
        f"\npoint instructions (set samx + read samx and M SimMonitors), bec-device-server process, "
        f"{args.repeats} x {args.points} points, median [min-max]"
    )
    print(f"{'M':>4} | {'points/s':>22} | {'server CPU ms/point':>22} | {'redis CPU ms/point':>22}")
    print("-" * 79)
    for monitors, rates, cpus, redis_cpus in rows:
        rate = f"{statistics.median(rates):7.0f} [{min(rates):.0f}-{max(rates):.0f}]"
        cpu = f"{statistics.median(cpus):6.3f} [{min(cpus):.3f}-{max(cpus):.3f}]"
        rcpu = f"{statistics.median(redis_cpus):6.3f} [{min(redis_cpus):.3f}-{max(redis_cpus):.3f}]"
        print(f"{monitors:>4} | {rate:>22} | {cpu:>22} | {rcpu:>22}")


def run(coro: object) -> None:
    try:
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coro)  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="read mode: instructions per size")
    parser.add_argument("--point", action="store_true", help="point mode (see the module doc)")
    parser.add_argument("--monitors", type=int, nargs="+", default=[4, 50], help="point mode: device sets")
    parser.add_argument("--points", type=int, default=1000, help="point mode: points per repeat")
    parser.add_argument("--repeats", type=int, default=7, help="point mode: timed runs per device set")
    parser.add_argument("--warmup", type=int, default=200, help="point mode: untimed points first")
    parser.add_argument("--profile", type=Path, help="point mode: run the server under cProfile")
    args = parser.parse_args()
    run(bench_points(args) if args.point else main(args.repeat))
