"""File writer: points/s into the file, lag behind the scan, scan end → FileMessage.

    python -m bench.bench_file_writer [--points 20000] [--scan-points 1000] [--repeats 3] [--monitors 4 50] [--no-stock]

Part 1, the writer alone: a private redis-server and ``bec-file-writer`` (process); the
benchmark plays a scan server as fast as Redis takes it (status ``open``, N points of one
motor and M monitors, each point's segment published and its public key set as the scan
server does, in pipelines of 500, then ``closed``) and measures the writer's throughput
(N / (FileMessage done - first point sent)) and its lag when the "scan" ends
(``closed`` sent → FileMessage done).

Part 2, the real stack, bec-core's beside stock BEC 4.3's (``bench_file_writer_stock.py``;
``--no-stock`` leaves it out): redis-server, ``bec-device-server``, ``bec-scan-server`` and
``bec-file-writer`` (stock: its six services); a ``line_scan(samx, -5, 5, steps=N,
exp_time=0)`` with M SimMonitors, the same requests to both: scan duration (request →
``closed`` received), how long after the scan's opening the file is on disk (the master
FileMessage ``done=False``: the lag behind the scan), the time from ``closed`` to the master
FileMessage ``done`` and the file rate (N / (file on disk → done)).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import yaml

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import FileMessage, ScanMessage, ScanQueueMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer
from bec_core.serialization import dumps
from bench.bench_scan_server import STOCK_SIMS
from bench.bench_scan_server import devices_yaml as scan_devices_yaml
from bench.common import Table, print_tables, run_async, services_running, spawn, stop_group

BIN = Path(sys.executable).parent
BATCH = 500
FILE_POLL_S = 0.01
#: a short scan before the timed ones (first-scan imports and caches), on both stacks
WARM_UP_POINTS = 5
CLIENT_INFO = {"username": getpass.getuser(), "hostname": socket.gethostname(), "acl_user": "default"}


def devices_yaml(monitors: int) -> str:
    """samx and ``monitors`` SimMonitors (ophyd_devices: valid for both stacks)."""
    return scan_devices_yaml(monitors, STOCK_SIMS)


class FileWatch:
    """Times of the master FileMessages of one scan (opened, done)."""

    def __init__(self) -> None:
        self.opened: dict[str, float] = {}
        self.paths: dict[str, str] = {}
        self.done: dict[str, tuple[float, FileMessage]] = {}
        self.event = asyncio.Event()

    def __call__(self, item: object) -> None:
        value = getattr(item, "value", None)
        topic = str(getattr(item, "topic", ""))
        if not isinstance(value, FileMessage) or not topic.endswith("/file/master"):
            return
        scan_id = topic.split("/")[2]
        now = time.perf_counter()
        if value.done:
            self.done[scan_id] = (now, value)
            self.event.set()
        else:
            self.opened.setdefault(scan_id, now)
            self.paths.setdefault(scan_id, value.file_path)

    async def wait_done(self, scan_id: str, timeout: float) -> tuple[float, FileMessage]:
        deadline = time.perf_counter() + timeout
        while scan_id not in self.done:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), max(0.01, deadline - time.perf_counter()))
        return self.done[scan_id]


def _status(
    scan_id: str, number: int, status: str, points: int, monitors: int, base: Path
) -> ScanStatusMessage:
    devices = ["samx", *(f"mon{i}" for i in range(monitors))]
    info = {
        "scan_id": scan_id,
        "scan_number": number,
        "dataset_number": number,
        "scan_name": "line_scan",
        "scan_type": "step",
        "num_points": points,
        "num_monitored_readouts": points,
        "scan_report_devices": ["samx"],
        "readout_priority": {
            "monitored": devices,
            "baseline": [],
            "async": [],
            "continuous": [],
            "on_request": [],
        },
        "file_components": (str(base / f"S{number:05d}"), "h5"),
        "scan_parameters": {"system_config": {}},
        "request_inputs": {"arg_bundle": ["samx", -5, 5], "inputs": {}, "kwargs": {"steps": points}},
    }
    return ScanStatusMessage(
        scan_id=scan_id,
        status=status,  # type: ignore[arg-type]
        scan_number=number,
        num_points=points,
        num_monitored_readouts=points,
        scan_name="line_scan",
        scan_parameters={"system_config": {}},
        readout_priority=info["readout_priority"],  # type: ignore[arg-type]
        info=info,
    )


async def publish_status(conn: AsyncRedisConnector, msg: ScanStatusMessage) -> None:
    """As the scan server does: the stored status of the scan, then SET+PUBLISH scan_status."""
    await conn.set(MessageEndpoints.public_scan_info(msg.scan_id), msg, expire=600)
    await conn.set_and_publish(MessageEndpoints.scan_status(), msg)


async def writer_alone(monitors: int, points: int, tmp: Path, number: int) -> dict[str, float]:
    """Part 1: the writer fed at Redis speed."""
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / f"redis-{monitors}.log").start()
    proc = spawn(
        [str(BIN / "bec-file-writer"), "--redis", redis.url, "--log-level", "WARNING"], tmp / "fw.log"
    )
    conn = await AsyncRedisConnector(redis.url).connect()
    try:
        await services_running(conn, ["FileWriterManager"])
        watch = FileWatch()
        await conn.register(MessageEndpoints.public_file(), watch)
        scan_id = str(uuid.uuid4())
        base = tmp / "data"
        await publish_status(conn, _status(scan_id, number, "open", points, monitors, base))
        segment = MessageEndpoints.scan_segment().endpoint
        rng = random.Random(1)
        t0 = time.perf_counter()
        for start in range(0, points, BATCH):
            pipe = conn.pipeline()
            for point in range(start, min(points, start + BATCH)):
                now = time.time()
                data = {
                    "samx": {
                        "samx": {"value": point * 0.01, "timestamp": now},
                        "samx_setpoint": {"value": point * 0.01, "timestamp": now},
                    }
                }
                for i in range(monitors):
                    data[f"mon{i}"] = {f"mon{i}": {"value": rng.random(), "timestamp": now}}
                raw = dumps(
                    ScanMessage(point_id=point, scan_id=scan_id, data=data, metadata={"scan_id": scan_id})
                )
                pipe.publish(segment, raw)
                pipe.set(MessageEndpoints.public_scan_segment(scan_id, point).endpoint, raw, ex=600)
            await pipe.execute()
        t_sent = time.perf_counter()
        await publish_status(conn, _status(scan_id, number, "closed", points, monitors, base))
        t_closed = time.perf_counter()
        t_done, msg = await watch.wait_done(scan_id, 300)
        assert msg.successful, (tmp / "fw.log").read_text()[-2000:]
        return {
            "sent_rate": points / (t_sent - t0),
            "rate": points / (t_done - t0),
            "lag_ms": (t_done - t_closed) * 1e3,
        }
    finally:
        await conn.close()
        stop_group(proc)
        redis.stop()


async def real_stack(monitors: int, points: int, repeats: int, tmp: Path) -> dict[str, list[float]]:
    """Part 2: a real scan through the real stack."""
    (tmp / "devices.yaml").write_text(devices_yaml(monitors))
    (tmp / "services.yaml").write_text(yaml.safe_dump({"file_writer": {"base_path": str(tmp / "data")}}))
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    log = tmp / "servers.log"
    url, services = redis.url, str(tmp / "services.yaml")
    services_args = ["--service-config", services]
    commands = [
        ("bec-device-server", ["--config", str(tmp / "devices.yaml")]),
        ("bec-scan-server", services_args),
        ("bec-file-writer", services_args),
    ]
    procs: list[subprocess.Popen[bytes]] = [
        spawn([str(BIN / name), "--redis", url, *extra, "--log-level", "WARNING"], log)
        for name, extra in commands
    ]
    conn = await AsyncRedisConnector(url).connect()
    try:
        await services_running(conn, ["DeviceServer", "ScanServer", "FileWriterManager"])
        tail = lambda: (tmp / "servers.log").read_text()[-2000:]  # noqa: E731
        await timed_scans(conn, WARM_UP_POINTS, 1, tail)
        return await timed_scans(conn, points, repeats, tail)
    finally:
        await conn.close()
        for proc in reversed(procs):
            stop_group(proc)
        redis.stop()


async def timed_scans(
    conn: AsyncRedisConnector, points: int, repeats: int, log_tail: Callable[[], str]
) -> dict[str, list[float]]:
    """``repeats`` line scans of ``points`` points, exp_time 0, requested as a client does (the same
    request works for bec-core's and stock's scan server), each timed from the request to its
    ``open`` and ``closed`` statuses and its master FileMessages (done=False: the file exists;
    done=True: it is complete)."""
    out: dict[str, list[float]] = {"scan_s": [], "rate": [], "end_to_file_ms": [], "open_to_file_ms": []}
    watch = FileWatch()
    await conn.register(MessageEndpoints.public_file(), watch)
    opened: dict[str, float] = {}
    closed: dict[str, float] = {}
    ended = asyncio.Event()

    def on_status(item: object) -> None:
        value = getattr(item, "value", None)
        if not isinstance(value, ScanStatusMessage) or not value.scan_id:
            return
        if value.status == "open":
            opened.setdefault(value.scan_id, time.perf_counter())
        elif value.status == "closed":
            closed.setdefault(value.scan_id, time.perf_counter())
            ended.set()

    await conn.register(MessageEndpoints.scan_status(), on_status)
    for _ in range(repeats):
        request = ScanQueueMessage(
            scan_type="line_scan",
            parameter={
                "args": {"samx": [-5, 5]},
                "kwargs": {
                    "steps": points,
                    "exp_time": 0,
                    "relative": False,
                    "system_config": {"file_suffix": None, "file_directory": None},
                },
            },
            # system_config and client_info as stock's client sends them (stock's scan server needs both)
            metadata={"RID": str(uuid.uuid4()), "client_info": CLIENT_INFO},
        )
        known = set(closed)
        t0 = time.perf_counter()
        await conn.send(MessageEndpoints.scan_queue_request("default"), request)
        on_disk = asyncio.get_running_loop().create_task(file_on_disk(watch, opened, set(opened)))
        while not (set(closed) - known):
            ended.clear()
            await asyncio.wait_for(ended.wait(), 300)
        [scan_id] = set(closed) - known
        t_done, msg = await watch.wait_done(scan_id, 300)
        assert msg.successful, log_tail()
        t_file = await asyncio.wait_for(on_disk, 60)
        out["scan_s"].append(closed[scan_id] - t0)
        out["rate"].append(points / (t_done - watch.opened.get(scan_id, t0)))
        out["end_to_file_ms"].append((t_done - closed[scan_id]) * 1e3)
        out["open_to_file_ms"].append((t_file - opened.get(scan_id, t0)) * 1e3)
    return out


async def file_on_disk(watch: FileWatch, opened: dict[str, float], known: set[str]) -> float:
    """When the master file of the next scan to open is at its path (polled every 10 ms): bec-core
    creates it at the opening, stock renames its temporary file there at the end."""
    while not (new := set(opened) - known) or next(iter(new)) not in watch.paths:
        await asyncio.sleep(FILE_POLL_S)
    path = Path(watch.paths[next(iter(new))])
    while not path.exists():
        await asyncio.sleep(FILE_POLL_S)
    return time.perf_counter()


async def main_async(args: argparse.Namespace) -> list[Table]:
    return await measure(args.points, args.scan_points, args.repeats, args.monitors, args.stock)


async def measure(
    points: int, scan_points: int, repeats: int, monitors: list[int], with_stock: bool = True
) -> list[Table]:
    """Both parts (``python -m bench`` calls this): the writer alone, then the real stacks."""
    args = argparse.Namespace(
        points=points, scan_points=scan_points, repeats=repeats, monitors=monitors, stock=with_stock
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-fw-"))
    alone = Table(
        f"File writer alone, fed at Redis speed ({args.points:,} points, median of {args.repeats})",
        ["monitors", "points sent/s", "points/s into the file", "lag at scan end (ms)"],
        key="file_writer_alone",
    )
    for monitors in args.monitors:
        runs = []
        for r in range(args.repeats):
            sub = tmp / f"alone-{monitors}-{r}"
            sub.mkdir()
            runs.append(await writer_alone(monitors, args.points, sub, r + 1))
        alone.rows.append(
            [
                monitors,
                round(statistics.median(x["sent_rate"] for x in runs)),
                round(statistics.median(x["rate"] for x in runs)),
                round(statistics.median(x["lag_ms"] for x in runs), 1),
            ]
        )
    alone.notes.append("lag at scan end: the 'closed' status sent → master FileMessage done (file closed)")
    from bench.bench_file_writer_stock import side_by_side

    stack = await side_by_side(args.monitors, args.scan_points, args.repeats, tmp, args.stock)
    return [alone, stack]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--scan-points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--monitors", type=int, nargs="+", default=[4, 50])
    parser.add_argument("--no-stock", dest="stock", action="store_false", help="bec-core only")
    args = parser.parse_args(argv)
    print_tables(run_async(main_async(args)))


if __name__ == "__main__":
    main()
