"""Benchmark: one ``read`` instruction of N monitored sim devices, request → final reply.

Compared with N sequential raw redis-py SET+PUBLISH round trips (what publishing
N readings one by one would cost at best), measured in the same run against the
same local redis-server. The device server runs in-process on the same uvloop.

    /work/venv/bin/python bench/bench_device_server.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import redis.asyncio as aioredis
from bec_device_server.config import validate_devices
from bec_device_server.server import DeviceServer

from bec_core import messages
from bec_core.config import load_settings
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer
from bec_core.serialization import dumps

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main(args.repeat))
    except ImportError:
        asyncio.run(main(args.repeat))
