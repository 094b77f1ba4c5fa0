"""Where a step scan's fixed cost goes: the publications of a short scan, timed from outside.

    python -m bench.bench_fixed_cost [--scans 100] [--monitors 4] [--points 2]

bec-device-server and bec-scan-server run as processes on a private redis-server
(``bench_scan_server.Stack``); a plain redis-py client subscribed to every channel
(``PSUBSCRIBE *``) stamps each publication as it arrives while ``--scans`` line
scans of ``--points`` points run one after the other. Per scan the first arrival
of each milestone is kept: the request (``queue_request``), its answer
(``queue_request_response``), the ``open`` scan status, the replies to ``stage``
and to the first ``point`` instruction, the last scan segment and the ``closed``
scan status (after ``complete`` and ``unstage``). The table
gives the median and the 10-90 % range of each step over the scans.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

from bec_core.messages import DeviceInstructionResponse, ScanStatusMessage
from bec_core.serialization import loads_message
from bench.bench_scan_server import Stack
from bench.common import Table, percentile, print_table, run_async

#: (label, from milestone, to milestone)
STEPS = [
    ("request → accepted", "request", "accepted"),
    ("accepted → scan open", "accepted", "open"),
    ("open → stage answered", "open", "stage"),
    ("stage → first point answered", "stage", "point"),
    ("first point → last segment", "point", "last_segment"),
    ("request → last segment (total)", "request", "last_segment"),
    ("last segment → scan closed", "last_segment", "closed"),
    ("request → scan closed (total)", "request", "closed"),
]


def milestone(channel: str, data: bytes) -> str | None:
    """The milestone a publication marks, if any."""
    if channel.endswith("/queue_request"):
        return "request"
    if channel.endswith("/queue_request_response"):
        return "accepted"
    if channel.endswith("/scan_segment"):
        return "segment"
    if channel.endswith("/scan_status"):
        msg = loads_message(data, channel)
        return str(msg.status) if isinstance(msg, ScanStatusMessage) else None
    if channel.endswith("/instructions_response"):
        msg = loads_message(data, channel)
        if isinstance(msg, DeviceInstructionResponse) and msg.status != "running":
            return str(msg.instruction.action)
    return None


def _scan_id(data: bytes, channel: str) -> str:
    return str(getattr(loads_message(data, channel), "scan_id", ""))


def _of_scan(data: bytes, channel: str, scan_id: Any) -> bool:
    return scan_id is not None and _scan_id(data, channel) == scan_id


async def measure(scans: int, monitors: int, points: int) -> Table:
    """Run the scans and return the table of steps."""
    marks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-fixed-") as tmp:
        async with Stack(monitors, Path(tmp)) as stack:
            for _ in range(5):  # warm-up: first imports, first connections
                await stack.scan(points)
            client = aredis.Redis.from_url(stack.client_url)
            pubsub = client.pubsub()
            await pubsub.psubscribe("*")
            await pubsub.get_message(timeout=10)  # the PSUBSCRIBE confirmation
            current: dict[str, Any] = {}  # milestone -> arrival time; and the scan's id
            segments, closed = asyncio.Event(), asyncio.Event()

            async def listen() -> None:
                while True:
                    raw = await pubsub.get_message(timeout=None)
                    if raw is None or raw.get("type") != "pmessage":
                        continue
                    now = time.perf_counter()
                    channel = raw["channel"].decode()
                    name = milestone(channel, raw["data"])
                    if name == "closed" and not _of_scan(raw["data"], channel, current.get("scan_id")):
                        continue  # another publication of an earlier scan's end
                    if name == "open":
                        current.setdefault("scan_id", _scan_id(raw["data"], channel))
                    if name == "segment":
                        current["last_segment"] = now
                        current["segments"] = current.get("segments", 0) + 1
                        if current["segments"] == points:
                            segments.set()
                    elif name is not None:
                        current.setdefault(name, now)
                        if name == "closed":
                            closed.set()

            listener = asyncio.get_running_loop().create_task(listen())
            try:
                for _ in range(scans):
                    current = {}
                    segments.clear()
                    closed.clear()
                    await stack.scan(points)
                    # the listener has the scan's last segment and its end
                    await asyncio.wait_for(asyncio.gather(segments.wait(), closed.wait()), 30)
                    marks.append(current)
            finally:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
                await pubsub.aclose()
                await client.aclose()
    table = Table(
        f"Fixed cost of a line_scan ({points} points, 1 motor + {monitors} monitors): {scans} scans",
        ["step", "median ms", "p10 ms", "p90 ms", "scans timed"],
        key="fixed_cost",
    )
    for label, start, end in STEPS:
        values = [(m[end] - m[start]) * 1e3 for m in marks if start in m and end in m]
        if values:
            table.rows.append(
                [
                    label,
                    statistics.median(values),
                    percentile(values, 10),
                    percentile(values, 90),
                    len(values),
                ]
            )
    table.notes.append(
        "Arrival times of the publications at a PSUBSCRIBE * client (redis-py); each step ends "
        "where the next begins, so the steps add up to the total (medians need not)."
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=100)
    parser.add_argument("--monitors", type=int, default=4)
    parser.add_argument("--points", type=int, default=2)
    args = parser.parse_args()
    table: Any = run_async(measure(args.scans, args.monitors, args.points))
    print_table(table)


if __name__ == "__main__":
    main()
