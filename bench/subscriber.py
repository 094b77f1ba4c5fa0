"""A scan-segment subscriber process: counts the point_ids of one scan and says whether any was lost.

    python -m bench.subscriber --url redis://127.0.0.1:PORT --points N [--timeout 600]

Prints ``ready`` once subscribed, then, when all N points arrived (or the scan
closed and 2 s passed, or the timeout expired), one JSON line: received
segments, unique point_ids, duplicates, whether 0..N-1 arrived contiguously
(every id once), the first missing ids, and the connector's dropped count.
Point ids are kept in a preallocated bytearray so that its memory stays flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bench.common import rss_mib, run_async


async def subscribe(url: str, points: int, timeout: float) -> dict[str, object]:
    seen = bytearray(points)
    counts = {"received": 0, "duplicates": 0, "out_of_range": 0, "unique": 0}
    done = asyncio.Event()
    closed_at: list[float] = []
    first_scan: list[str] = []
    t_first: list[float] = []

    def on_segment(msg) -> None:
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for value in values:
            if not isinstance(value, ScanMessage):
                continue
            if not first_scan:
                first_scan.append(value.scan_id)
                t_first.append(time.perf_counter())
            elif value.scan_id != first_scan[0]:
                continue
            counts["received"] += 1
            pid = value.point_id
            if not 0 <= pid < points:
                counts["out_of_range"] += 1
            elif seen[pid]:
                counts["duplicates"] += 1
            else:
                seen[pid] = 1
                counts["unique"] += 1
        if counts["unique"] == points:
            done.set()

    def on_status(msg) -> None:
        value = msg.value
        if isinstance(value, ScanStatusMessage) and value.status != "open" and value.status != "paused":
            if not first_scan or value.scan_id == first_scan[0]:
                closed_at.append(time.perf_counter())

    conn = await AsyncRedisConnector(url).connect()
    try:
        await conn.register(MessageEndpoints.scan_segment(), on_segment)
        await conn.register(MessageEndpoints.scan_status(), on_status)
        await asyncio.sleep(0.2)  # the subscriptions are confirmed by now
        print("ready", flush=True)
        deadline = time.perf_counter() + timeout
        while not done.is_set() and time.perf_counter() < deadline:
            if closed_at and time.perf_counter() - closed_at[0] > 2.0:
                break
            try:
                await asyncio.wait_for(done.wait(), 0.2)
            except TimeoutError:
                pass
        t_end = time.perf_counter()
        dropped = conn.stats.dropped
    finally:
        await conn.close()
    missing = [i for i in range(points) if not seen[i]]
    return {
        **counts,
        "expected": points,
        "contiguous": not missing and counts["duplicates"] == 0 and counts["out_of_range"] == 0,
        "missing": len(missing),
        "first_missing": missing[:10],
        "dropped": dropped,
        "seconds_first_to_last": (t_end - t_first[0]) if t_first else None,
        "rss_mib": rss_mib_self(),
    }


def rss_mib_self() -> float:
    import os

    return rss_mib(os.getpid())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    result = run_async(subscribe(args.url, args.points, args.timeout))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
