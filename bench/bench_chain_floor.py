"""The floor of a step scan's per-point chain: bec-core's Redis traffic per point, with no server work.

    python -m bench.bench_chain_floor [--points 3000] [--monitors 4] [--repeats 3] [--batch 16]

Per instruction bec-core's scan server writes one packet (``scan_progress`` SET+PUBLISH and the
``XADD`` of the next instruction) and waits for the reply on pub/sub; the device server reads
the instruction with a blocking ``XREADGROUP`` on a connection of its own and answers each point
with one ``EVALSHA`` of its ``FINISH_SCRIPT`` (the readings SET+PUBLISHed on ``device_read`` and
``device_readback``, the segment; for the instruction's last point also the reply and the
``XACK``); two instructions are in flight. ``--batch``: points per instruction (bec-core's
``points_per_instruction``, 16; 1: one point per instruction, as before it). The floor writes one
``EVALSHA`` per point; bec-core writes the points read while one is in flight together, so its
traffic is at most this.

The floor replays exactly that with two bare asyncio processes (``--role scan`` / ``--role
device``: a unix-socket stream and a ``hiredis.Reader``, the payloads encoded once before the
run): the same commands, packets, connections and wake-ups, a third process receiving the
segments as the benchmark's client does, and none of the work (no decoding,
no ophyd, no messages built). Its CPU per point is what the hand-offs alone cost on this
machine; bec-core's servers (``bench_scan_server.Stack``, the same device set) are measured in
the same invocation, interleaved, and the difference is the servers' own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bec_core.redis_connector.direct import pack
from bench.common import Table, cpu_seconds, print_table

STREAM = "internal/devices/instructions"
GROUP = "device_server"
REPLY = "internal/devices/instructions_response"
PROGRESS = "info/scans/scan_progress"
SEGMENT = "info/scans/scan_segment"
WARMUP = 200
NO_ANSWER = ("", b"", "", "", "")  #: FINISH_SCRIPT's reply and XACK arguments, none
ROLE_TIMEOUT = 60.0  #: seconds a role may take to get ready or to finish after the scan role


def _pack(*args: Any) -> bytes:
    """One command in RESP (the packer the servers use)."""
    return pack([args])


class Wire:
    """One Redis connection on the unix socket: write packets, read replies with hiredis."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import hiredis

        self.reader, self.writer = reader, writer
        self.parser = hiredis.Reader()

    @classmethod
    async def open(cls, sock: str) -> Wire:
        reader, writer = await asyncio.open_unix_connection(sock)
        return cls(reader, writer)

    async def reply(self) -> Any:
        while (found := self.parser.gets()) is False:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("Redis closed the connection")
            self.parser.feed(data)
        return found

    async def call(self, *args: Any) -> Any:
        self.writer.write(_pack(*args))
        return await self.reply()


def _readings(monitors: int) -> tuple[bytes, bytes]:
    """FINISH_SCRIPT's index and blob for ``samx`` + ``monitors`` devices, payloads the size of
    bec-core's encoded DeviceMessages (about 430 bytes each)."""
    index, blob = [], []
    for name in ["samx", *(f"mon{i}" for i in range(monitors))]:
        value = os.urandom(215).hex().encode()
        index.append(f"3 {len(name)} {len(value)} ")
        blob += [name.encode(), value]
    return "".join(index).encode(), b"".join(blob)


async def device_role(sock: str, monitors: int, total: int, batch: int) -> dict[str, float]:
    """Answer ``total`` points, ``batch`` per instruction, as bec-core's device server does, with no
    work in between."""
    from bec_device_server.publish import FINISH_SCRIPT

    reader = await Wire.open(sock)
    finisher = await Wire.open(sock)
    sha = await finisher.call("SCRIPT", "LOAD", FINISH_SCRIPT)
    index, blob = _readings(monitors)
    segment = os.urandom(600).hex().encode()
    reply = os.urandom(350).hex().encode()
    read = _pack("XREADGROUP", "GROUP", GROUP, "floor", "COUNT", 100, "BLOCK", 2000, "STREAMS", STREAM, ">")
    done = answered = 0
    started = 0.0

    async def drain() -> None:  # the finishing connection's replies, in order (as the Finisher reads them)
        nonlocal answered
        while answered < total:  # one reply per point
            await finisher.reply()
            answered += 1

    draining = asyncio.ensure_future(drain())
    reader.writer.write(read)
    while done < total:
        found = await reader.reply()
        reader.writer.write(read)  # re-issued at once, as the device server's GroupReader does
        for entry_id, _fields in found[0][1] if found else []:
            points = min(batch, total - done)
            for n in range(points):
                point = done
                done += 1
                if done == WARMUP:
                    started = time.process_time()
                # the reply and the XACK go with the instruction's last point
                answer = (REPLY, reply, STREAM, GROUP, entry_id) if n == points - 1 else NO_ANSWER
                finisher.writer.write(
                    _pack(
                        "EVALSHA", sha, 0, index, blob, *answer,
                        f"floor/segment/{point}", SEGMENT, segment, 60, "floor/withdrawn", "",
                    )
                )  # fmt: skip
    await draining
    return {"cpu_s": time.process_time() - started}


async def scan_role(sock: str, points: int, batch: int) -> dict[str, float]:
    """Send ``points`` points, ``batch`` per instruction and two instructions in flight, each with
    its progress, as the scan server does."""
    sub = await Wire.open(sock)
    await sub.call("SUBSCRIBE", REPLY)
    writer = await Wire.open(sock)
    instruction = os.urandom(300 + 200 * (batch - 1)).hex().encode()  # a segment spec per point
    progress = os.urandom(110).hex().encode()

    def packet() -> bytes:
        return b"".join(
            (
                _pack("SET", PROGRESS, progress),
                _pack("PUBLISH", PROGRESS, progress),
                _pack("XADD", STREAM, "MAXLEN", "~", 10000, "*", "data", instruction),
            )
        )

    async def send() -> None:
        writer.writer.write(packet())
        for _ in range(3):
            await writer.reply()

    total = WARMUP + points
    sent = answered = 0  # points
    started = wall = 0.0
    for _ in range(2):
        await send()
        sent += batch
    while answered < total:
        await sub.reply()  # ["message", channel, data]
        before, answered = answered, min(total, answered + batch)
        if before < WARMUP <= answered:
            started, wall = time.process_time(), time.perf_counter()
        if sent < total:
            await send()
            sent += batch
    return {"cpu_s": time.process_time() - started, "wall_s": time.perf_counter() - wall}


async def client_role(sock: str, total: int) -> dict[str, float]:
    """Receive ``total`` segments, as the benchmark's client receives bec-core's."""
    sub = await Wire.open(sock)
    await sub.call("SUBSCRIBE", SEGMENT)
    print(json.dumps({"ready": True}), flush=True)
    for _ in range(total):
        await sub.reply()
    return {}


def run_floor(points: int, monitors: int, tmp: Path, batch: int) -> dict[str, float]:
    """One floor run: Redis + the two roles as processes; CPU ms per point of each."""
    from bec_core.redis_server import RedisServer, free_port

    sock = tmp / "floor.sock"
    redis = RedisServer(
        port=free_port(), unixsocket=sock, persistence="none", data_dir=tmp, log_file=tmp / "r.log"
    )
    redis.start()
    try:

        async def setup() -> None:
            wire = await Wire.open(str(sock))
            await wire.call("XGROUP", "CREATE", STREAM, GROUP, "$", "MKSTREAM")
            wire.writer.close()

        asyncio.run(setup())
        role = [
            sys.executable,
            "-m",
            "bench.bench_chain_floor",
            "--socket",
            str(sock),
            "--monitors",
            str(monitors),
            "--batch",
            str(batch),
        ]
        children: list[subprocess.Popen[bytes]] = []
        try:
            client = subprocess.Popen(
                [*role, "--role", "client", "--points", str(points)], stdout=subprocess.PIPE
            )
            children.append(client)
            assert client.stdout is not None
            if not select.select([client.stdout], [], [], ROLE_TIMEOUT)[0]:
                raise TimeoutError(f"the client role did not subscribe within {ROLE_TIMEOUT:g} s")
            assert json.loads(client.stdout.readline()) == {"ready": True}
            device = subprocess.Popen(
                [*role, "--role", "device", "--points", str(points)], stdout=subprocess.PIPE
            )
            children.append(device)
            before = cpu_seconds(redis.pid or 0)  # over warm-up and measured points alike
            scan = subprocess.run(
                [*role, "--role", "scan", "--points", str(points)],
                capture_output=True,
                check=True,
                timeout=ROLE_TIMEOUT + points * 0.01,
            )
            out_device, _ = device.communicate(timeout=ROLE_TIMEOUT)
            client.communicate(timeout=ROLE_TIMEOUT)
            redis_cpu = cpu_seconds(redis.pid or 0) - before
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
    finally:
        redis.stop()
    scan_out, device_out = json.loads(scan.stdout), json.loads(out_device)
    total = points + WARMUP
    return {
        "scan": scan_out["cpu_s"] / points * 1e3,
        "device": device_out["cpu_s"] / points * 1e3,
        "redis": redis_cpu / total * 1e3,
        "wall": scan_out["wall_s"] / points * 1e3,
    }


def cell(values: list[float]) -> str:
    """``median (min-max)`` with three decimals."""
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def run_core(points: int, monitors: int, tmp: Path) -> dict[str, float]:
    """bec-core's servers over one ``points``-point line_scan: CPU ms per point of each."""
    from bench.bench_scan_server import Stack

    async def go() -> dict[str, float]:
        async with Stack(monitors, tmp) as stack:
            await stack.scan(5)
            await stack.scan(50)
            before = stack.cpu()
            seconds, _ = await stack.scan(points)
            after = stack.cpu()
        per = {k: (after[k] - before[k]) / points * 1e3 for k in after}
        return {"scan": per["scan server"], "device": per["device server"], "redis": per["redis"],
                "wall": seconds / points * 1e3}  # fmt: skip

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=3000)
    parser.add_argument("--monitors", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="points per instruction in the floor")
    parser.add_argument("--role", choices=["scan", "device", "client"], help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "device":
        print(
            json.dumps(asyncio.run(device_role(args.socket, args.monitors, WARMUP + args.points, args.batch)))
        )
        return
    if args.role == "client":
        print(json.dumps(asyncio.run(client_role(args.socket, WARMUP + args.points))))
        return
    if args.role == "scan":
        print(json.dumps(asyncio.run(scan_role(args.socket, args.points, args.batch))))
        return
    runs: dict[str, list[dict[str, float]]] = {"floor": [], "bec-core": []}
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        for i in range(args.repeats):  # interleaved: slow drifts of the machine hit both alike
            runs["floor"].append(run_floor(args.points, args.monitors, Path(tmp) / f"f{i}", args.batch))
            runs["bec-core"].append(run_core(args.points, args.monitors, Path(tmp)))
    table = Table(
        f"Per-point chain, 1 motor + {args.monitors} monitors, {args.points} points, floor with "
        f"{args.batch} point(s) per instruction: CPU ms per point "
        f"(median of {args.repeats}, min-max)",
        ["process", "floor (same traffic, no work)", "bec-core", "bec-core - floor"],
    )
    for key, label in (
        ("scan", "scan server"),
        ("device", "device server"),
        ("redis", "redis"),
        ("all", "all"),
        ("wall", "wall ms per point"),
    ):

        def values(side: str, key: str = key) -> list[float]:
            if key == "all":
                return [r["scan"] + r["device"] + r["redis"] for r in runs[side]]
            return [r[key] for r in runs[side]]

        floor, core = values("floor"), values("bec-core")
        table.rows.append(
            [label, cell(floor), cell(core), f"{statistics.median(core) - statistics.median(floor):.3f}"]
        )
    table.notes.append(
        "floor: two bare asyncio processes sending bec-core's commands (same packets, connections, "
        "FINISH_SCRIPT once per point, two instructions in flight, a client receiving the segments), "
        "payloads encoded once; CPU from /proc (10 ms ticks) and process_time."
    )
    print_table(table)
    print(
        f"\nCommand: `python -m bench.bench_chain_floor --points {args.points} --monitors {args.monitors} "
        f"--repeats {args.repeats} --batch {args.batch}`"
    )


if __name__ == "__main__":
    main()
