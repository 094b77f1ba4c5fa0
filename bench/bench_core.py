"""bec_core benchmarks: codec round trips and set_and_publish → callback latency.

    python -m bench.bench_core [--messages 10000]

Each figure is printed beside its reference measured in the same run: stock
bec_lib's serializer (when installed) and plain msgpack for the codec, raw
redis-py PUBLISH to a raw subscriber for the latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import msgpack
import redis.asyncio as aioredis

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import examples
from bec_core.redis_connector import AsyncRedisConnector, new_event_loop
from bec_core.redis_server import RedisServer
from bec_core.serialization import dumps, loads
from bench.common import print_table, summary_us

SCAN_STATUS = examples.SCAN_STATUS
DEVICE_50 = examples.device_reading(50)


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    n, start = 0, time.perf_counter()
    batch = 200
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def codec_rows(repeats: int = 5) -> list[list[object]]:
    """Round trips/s, median of ``repeats`` interleaved runs of each codec."""
    try:
        from bec_lib import messages as bec_messages
        from bec_lib.serialization import MsgpackSerialization as BecCodec
    except ImportError:
        bec_messages = BecCodec = None
    rows = []
    for name, fields in (("ScanStatusMessage", SCAN_STATUS), ("DeviceMessage", DEVICE_50)):
        ours = getattr(messages, name)(**fields)
        plain = {"metadata": fields.get("metadata", {}), **{k: v for k, v in fields.items() if k != "metadata"}}
        theirs = getattr(bec_messages, name)(**fields) if BecCodec is not None else None
        samples: dict[str, list[float]] = {"ours": [], "theirs": [], "plain": []}
        for _ in range(repeats):
            samples["ours"].append(rate(lambda m=ours: loads(dumps(m)), 0.4))
            samples["plain"].append(rate(lambda d=plain: msgpack.unpackb(msgpack.packb(d)), 0.4))
            if theirs is not None:
                samples["theirs"].append(rate(lambda m=theirs: BecCodec.loads(BecCodec.dumps(m)), 0.4))
        our_rate = statistics.median(samples["ours"])
        plain_rate = statistics.median(samples["plain"])
        if samples["theirs"]:
            their_rate = statistics.median(samples["theirs"])
            ratio = f"{our_rate / their_rate:.2f}x"
        else:
            their_rate, ratio = float("nan"), "bec_lib not installed"
        label = name if name != "DeviceMessage" else "DeviceMessage (50 signals)"
        rows.append([label, our_rate, their_rate, plain_rate, ratio])
    return rows


async def latency_ours(url: str, n: int) -> list[float]:
    pub = await AsyncRedisConnector(url).connect()
    sub_conn = await AsyncRedisConnector(url).connect()
    ep = MessageEndpoints.device_readback("samx")
    samples: list[float] = []
    got = asyncio.Event()

    def cb(msg) -> None:
        samples.append(time.perf_counter() - msg.value.metadata["t"])
        got.set()

    await sub_conn.register(ep, cb)
    for i in range(n):
        got.clear()
        msg = messages.DeviceMessage(
            signals={"samx": {"value": float(i), "timestamp": 0.0}}, metadata={"t": time.perf_counter()}
        )
        await pub.set_and_publish(ep, msg)
        async with asyncio.timeout(5):
            await got.wait()
    await pub.close()
    await sub_conn.close()
    return samples


async def latency_raw(url: str, n: int) -> list[float]:
    pub = aioredis.Redis.from_url(url)
    sub_client = aioredis.Redis.from_url(url)
    pubsub = sub_client.pubsub()
    await pubsub.subscribe("raw")
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        await pub.publish("raw", msgpack.packb({"value": float(i), "t": t0}))
        while True:
            m = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if m is not None:
                break
        msgpack.unpackb(m["data"])
        samples.append(time.perf_counter() - t0)
    await pubsub.aclose()
    await pub.aclose()
    await sub_client.aclose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    print_table(
        "Codec: encode+decode round trips per second",
        ["message", "bec_core", "bec_lib 4.3", "plain msgpack", "bec_core / bec_lib"],
        codec_rows(),
    )
    with RedisServer() as server:
        loop = new_event_loop()
        raw = summary_us(loop.run_until_complete(latency_raw(server.url, args.messages)))
        ours = summary_us(loop.run_until_complete(latency_ours(server.url, args.messages)))
        loop.close()
    rows = [
        ["raw redis-py PUBLISH → raw subscriber", raw["p50"], raw["p99"], raw["mean"], "1.00x"],
        [
            "bec_core set_and_publish → callback",
            ours["p50"],
            ours["p99"],
            ours["mean"],
            f"{ours['p50'] / raw['p50']:.2f}x",
        ],
    ]
    print_table(
        f"Latency over {args.messages:,} messages (µs, uvloop)",
        ["path", "p50", "p99", "mean", "p50 / raw"],
        rows,
    )


if __name__ == "__main__":
    main()
