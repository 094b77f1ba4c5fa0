"""Benchmark the device server: ``read`` latency, or the CPU cost of ``point`` instructions.

Default mode: one ``read`` instruction of N monitored sim devices, request →
final reply, compared with N sequential raw redis-py SET+PUBLISH round trips
(what publishing N readings one by one would cost at best), measured in the
same run against the same local redis-server. The device server runs
in-process on the same uvloop.

    python -m bench.bench_device_server [--repeat 200]

``--point`` mode: ``bec-device-server`` runs as its own process (one motor with
``delay: 0`` and M SimMonitors), and a lean driver sends ``point`` instructions
one after the other exactly as the scan server does for a step scan (set the
motor, read the motor and every monitor), waiting for each final reply.
Reported per M: points per second and the CPU milliseconds per point of the
device server (and of redis-server), utime+stime from /proc/<pid>/stat, median
[min-max] over ``--repeats`` runs of ``--points`` points each. ``--profile FILE`` runs the server under cProfile
(the stats of the last device set land in FILE; slower, for finding hot spots).

    python -m bench.bench_device_server --point [--monitors 4 50] \
        [--points 1000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgpack
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
from bench.bench_scan_server import devices_yaml
from bench.common import Stats, Table, cpu_seconds, print_table, run_async, spawn, stop_group

SIZES = (1, 5, 50, 200)


def devices(n: int) -> dict:
    return {
        f"mon{i}": {
            "deviceClass": "bec_device_server.sim.SimMonitor",
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


async def measure_reads(repeat: int, sizes: tuple[int, ...] = SIZES) -> Table:
    """``read`` of N devices vs N raw SET+PUBLISH round trips, for each N in ``sizes``."""
    rows: list[list[object]] = []
    curve: dict[str, list[float]] = {"n": [], "ds_ms": [], "raw_ms": []}
    with RedisServer(persistence="none") as redis_server:
        settings = load_settings(
            env={}, overrides={"redis": {"url": redis_server.url}, "log_level": "WARNING"}
        )
        server = DeviceServer(settings, validate_devices(devices(max(sizes)), "bench"))
        task = asyncio.create_task(server.run())
        try:
            await asyncio.wait_for(server.ready.wait(), 60)
            conn = await AsyncRedisConnector(redis_server.url).connect()
            for n in sizes:
                names = [f"mon{i}" for i in range(n)]
                reps = repeat if n < 200 else max(20, repeat // 4)
                ds = Stats(await time_reads(conn, names, reps)).scaled(1e3)
                raw = Stats(
                    await time_raw(redis_server.url, n, max(10, reps // (1 if n < 50 else 4)))
                ).scaled(1e3)
                rows.append(
                    [
                        n,
                        ds.median,
                        ds.p99,
                        ds.spread(3),
                        ds.median / n,
                        raw.median,
                        raw.spread(3),
                        f"{ds.median / raw.median:.2f}x",
                    ]
                )
                curve["n"].append(n)
                curve["ds_ms"].append(ds.median)
                curve["raw_ms"].append(raw.median)
            await conn.close()
        finally:
            server.request_stop("bench over")
            await task
    return Table(
        f"Device server: one `read` of N SimMonitors (request → final reply, ms) vs N raw SET+PUBLISH, {repeat} repeats",
        ["N", "median ms", "p99 ms", "spread", "ms / device", "N x raw SET+PUBLISH ms", "spread", "ds / raw"],
        rows,
        notes=[
            "The device server runs in-process on uvloop against a private redis-server; the request is an "
            "XADD of a DeviceInstructionMessage, the reply its DeviceInstructionResponse. The reference is N "
            "sequential pipelined SET+PUBLISH round trips with plain redis-py (publishing N readings one by "
            "one at best). ds / raw < 1 means the server batches the N readings into fewer round trips. "
            "N = 200 uses a quarter of the repeats (at least 20).",
        ],
        key="device_read",
        data=curve,
    )


async def main(repeat: int) -> None:
    print_table(await measure_reads(repeat))


# --------------------------------------------------------------------------- point mode
_STREAM = MessageEndpoints.device_instructions().endpoint
_REPLY = MessageEndpoints.device_instructions_response().endpoint


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
                try:
                    data = ormsgpack.unpackb(msg["data"])[CODEC_KEY]["data"]
                except ValueError:  # ormsgpack refuses bin payloads (numpy values of ophyd_devices sims)
                    data = msgpack.unpackb(msg["data"])[CODEC_KEY]["data"]
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


async def measure_points(
    monitors_list: list[int], points: int, repeats: int, warmup: int = 200, profile: Path | None = None
) -> Table:
    """Points/s and CPU per point of a ``bec-device-server`` process driven with ``point`` instructions."""
    rows: list[list[object]] = []
    curve: dict[str, list[float]] = {"monitors": [], "ds_cpu_ms": [], "redis_cpu_ms": [], "ms_per_point": []}
    with tempfile.TemporaryDirectory() as tmp_dir, RedisServer(persistence="none") as redis_server:
        tmp = Path(tmp_dir)
        for monitors in monitors_list:
            config = tmp / f"devices{monitors}.yaml"
            config.write_text(devices_yaml(monitors))
            prefix = [sys.executable]
            if profile:
                prefix += ["-m", "cProfile", "-o", str(profile)]
            cmd = [*prefix, "-m", "bec_device_server.cli", "--redis", redis_server.url]
            cmd += ["--config", str(config), "--log-level", "WARNING"]
            proc = spawn(cmd, tmp / f"server{monitors}.log")
            try:
                await wait_running(redis_server.url, proc)
                driver = PointDriver(redis_server.url, monitors)
                await driver.start()
                await driver.run(warmup, check_every=50)
                rates, cpus, redis_cpus = [], [], []
                redis_pid = redis_server.pid or 0
                for _ in range(repeats):
                    cpu0, rcpu0 = cpu_seconds(proc.pid), cpu_seconds(redis_pid)
                    t0 = time.perf_counter()
                    await driver.run(points)
                    wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
                    rates.append(points / wall)
                    cpus.append(cpu / points * 1e3)
                    redis_cpus.append((cpu_seconds(redis_pid) - rcpu0) / points * 1e3)
                await driver.run(10, check_every=1)
                await driver.close()
            finally:
                if profile:
                    proc.send_signal(signal.SIGINT)  # cProfile writes its stats on a clean exit
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        pass
                stop_group(proc)
            r, c, rc = Stats(rates), Stats(cpus), Stats(redis_cpus)
            rows.append(
                [
                    monitors,
                    r.median,
                    r.spread(0),
                    1e3 / r.median,
                    c.median,
                    c.spread(3),
                    rc.median,
                    rc.spread(3),
                ]
            )
            curve["monitors"].append(monitors)
            curve["ds_cpu_ms"].append(c.median)
            curve["redis_cpu_ms"].append(rc.median)
            curve["ms_per_point"].append(1e3 / r.median)
    return Table(
        f"Device server process: `point` instructions (set samx, read samx + M SimMonitors), "
        f"{repeats} x {points} points",
        ["M", "points/s", "spread", "ms / point", "server CPU ms/pt", "spread", "redis CPU ms/pt", "spread"],
        rows,
        notes=[
            "A lean raw-redis-py driver sends one `point` DeviceInstructionMessage at a time exactly as the "
            "scan server does and waits for its final reply; CPU is utime+stime from /proc/<pid>/stat over "
            "the run, divided by points. Spread = min-max over the repeats.",
        ],
        key="device_point",
        data=curve,
    )


async def bench_points(args: argparse.Namespace) -> None:
    print_table(await measure_points(args.monitors, args.points, args.repeats, args.warmup, args.profile))


def run(coro: object) -> None:
    run_async(coro)  # type: ignore[arg-type]


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
