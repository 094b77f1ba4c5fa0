"""Scan server end to end: request sent → last segment received, umv, a long scan, fan-out.

    python -m bench.bench_scan_server [--repeats 3] [--sizes 10 100 1000] [--long 100000] [--fanout 10000]

Starts a private redis-server (bec_core.redis_server.RedisServer), then
``bec-device-server`` and ``bec-scan-server`` as processes (their entry
points), and measures ``line_scan(samx, -5, 5, steps=N, exp_time=0,
relative=False)`` with one motor (delay 0) and 4, then 50, monitored
SimMonitors: request sent → the segment of the last point received, per-point
and fixed cost (least-squares fit over every run), the intervals between
consecutive segments (for the histograms), Redis commands and CPU per point of
each process, and ``umv`` (request → req_status). ``--long N`` runs one
N-point ``time_scan`` with a subscriber process counting point ids while RSS
of every process is sampled; ``--fanout N`` runs one N-point scan watched by
10 subscriber processes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanMessage, ScanQueueMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_server import RedisServer, free_port
from bench.common import (
    Stats,
    Table,
    cpu_seconds,
    print_tables,
    rss_mib,
    run_async,
    services_running,
    spawn,
    stop_group,
)

BIN = Path(sys.executable).parent
MOTOR = """samx:
  deviceClass: bec_device_server.sim.SimPositioner
  deviceConfig: {delay: 0, limits: [-50, 50], tolerance: 0.01}
  readoutPriority: baseline
  enabled: true
  readOnly: false
  softwareTrigger: false
"""
MONITOR = """mon{i}:
  deviceClass: bec_device_server.sim.SimMonitor
  deviceConfig: null
  readoutPriority: monitored
  enabled: true
  readOnly: false
  softwareTrigger: false
"""


#: the simulated devices of bec-core (fast) and of stock BEC (``ophyd_devices``, also hosted by bec-core)
OWN_SIMS = "bec_device_server.sim."
STOCK_SIMS = "ophyd_devices."


def devices_yaml(monitors: int, classes: str = OWN_SIMS) -> str:
    """One motor and ``monitors`` monitored devices; ``classes`` = the package of the sim classes
    (stock BEC loads ``ophyd_devices.`` only)."""
    return (MOTOR + "".join(MONITOR.format(i=i) for i in range(monitors))).replace(OWN_SIMS, classes)


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of seconds over N."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if len(set(xs)) < 2:  # one size only: no fixed cost can be separated
        return statistics.median(ys) / xs[0], 0.0
    slope, intercept = statistics.linear_regression(xs, ys)
    return slope, intercept


class Stack:
    """Redis + device server + scan server (processes) for one device set."""

    def __init__(self, monitors: int, tmp: Path, classes: str = OWN_SIMS) -> None:
        self.monitors = monitors
        self.tmp = tmp / f"m{monitors}-{uuid.uuid4().hex[:6]}"
        self.tmp.mkdir()
        (self.tmp / "devices.yaml").write_text(devices_yaml(monitors, classes))
        # as `bec-server start` runs them: the servers on the embedded Redis's unix socket, the
        # client (here: the benchmark) on TCP
        self.redis = RedisServer(
            port=free_port(),
            unixsocket=self.tmp / "redis.sock",
            persistence="none",
            data_dir=self.tmp,
            log_file=self.tmp / "redis.log",
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    async def __aenter__(self) -> Stack:
        self.redis.start()
        try:
            url = self.redis.url
            log = self.tmp / "servers.log"
            self.procs["device server"] = spawn(
                [
                    str(BIN / "bec-device-server"),
                    "--redis",
                    url,
                    "--config",
                    str(self.tmp / "devices.yaml"),
                    "--log-level",
                    "WARNING",
                ],
                log,
            )
            self.procs["scan server"] = spawn(
                [str(BIN / "bec-scan-server"), "--redis", url, "--log-level", "WARNING"], log
            )
            self.conn = await AsyncRedisConnector(self.client_url).connect()
            await services_running(self.conn, ("ScanServer", "DeviceServer"))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if hasattr(self, "conn"):
            await self.conn.close()
        for proc in self.procs.values():
            stop_group(proc)
        self.redis.stop()

    @property
    def client_url(self) -> str:
        """Where clients connect: the TCP address (the servers use the unix socket)."""
        return f"redis://{self.redis.address}"

    def pids(self) -> dict[str, int]:
        pids = {name: p.pid for name, p in self.procs.items()}
        pids["redis"] = self.redis.pid or 0
        return pids

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process."""
        return {name: cpu_seconds(pid) for name, pid in self.pids().items()}

    async def commands(self) -> Counter[str]:
        """Redis commands processed so far, by command (INFO commandstats)."""
        info = await self.conn.redis.info("commandstats")
        return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()})

    async def scan(self, steps: int, scan_type: str = "line_scan") -> tuple[float, list[float]]:
        """(seconds from request to the last point's segment, arrival times of all segments)."""
        if scan_type == "line_scan":
            parameter = {
                "args": {"samx": [-5, 5]},
                "kwargs": {"steps": steps, "exp_time": 0, "relative": False},
            }
        else:
            parameter = {
                "args": {},
                "kwargs": {"points": steps, "interval": 0, "exp_time": 0, "relative": False},
            }
        msg = ScanQueueMessage(scan_type=scan_type, parameter=parameter, metadata={"RID": str(uuid.uuid4())})
        arrivals: list[float] = []
        done = asyncio.Event()

        def on_segment(item) -> None:
            values = item.value if isinstance(item.value, list) else [item.value]
            now = time.perf_counter()
            for v in values:
                if isinstance(v, ScanMessage):
                    arrivals.append(now)
                    if v.point_id == steps - 1:
                        done.set()

        ep = MessageEndpoints.scan_segment()
        await self.conn.register(ep, on_segment)
        try:
            await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            await self.conn.send(MessageEndpoints.scan_queue_request("default"), msg)
            await asyncio.wait_for(done.wait(), 120 + steps * 0.05)
            return time.perf_counter() - t0, arrivals
        finally:
            await self.conn.unregister(ep, on_segment)

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


def intervals_ms(arrivals: list[float]) -> list[float]:
    return [(b - a) * 1e3 for a, b in itertools.pairwise(arrivals)]


# --------------------------------------------------------------------------- py-spy
def pyspy_start(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    binary = shutil.which("py-spy") or (str(BIN / "py-spy") if (BIN / "py-spy").exists() else None)
    if binary is None:
        return None
    cmd = [binary, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "250"]
    cmd += ["--format", "raw", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


IDLE_FRAMES = (
    ("Runner.run", "runners.py"),
    ("Condition.wait", "threading.py"),
    ("EpollSelector.select", "selectors.py"),
)


def pyspy_top(path: Path, top: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """(idle share %, top functions by self samples as % of busy samples) of a py-spy raw file.

    Samples whose leaf is the event loop waiting (uvloop's C ``run`` shows as
    ``Runner.run``) or a thread waiting are counted as idle.
    """
    if not path.exists():
        return float("nan"), []
    own: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.split(";")[-1]
        n = int(count)
        total += n
        name, _, where = leaf.partition(" (")
        if any(name == fn and where.split("/")[-1].startswith(f"{file}:") for fn, file in IDLE_FRAMES):
            idle += n
            continue
        own[f"{name} ({where.split('/')[-1]}" if where else name] += n
    busy = total - idle
    shares = [(name, n / busy * 100) for name, n in own.most_common(top)] if busy else []
    return (idle / total * 100 if total else float("nan")), shares


# --------------------------------------------------------------------------- the step-scan figures
async def measure_scans(
    sizes: list[int],
    monitors_list: list[int],
    repeats: int,
    umv_count: int,
    profile: bool = False,
    profile_out: Path | None = None,
) -> list[Table]:
    """Step scans, where-the-time-goes and umv tables (histogram and curve data in ``Table.data``)."""
    rows: list[list[object]] = []
    where: list[list[object]] = []
    profiles: list[str] = []
    hist: dict[int, list[float]] = {}
    curve: dict[str, list[float]] = {"monitors": [], "ms_per_point": [], "fixed_ms": []}
    umv_times: list[float] = []
    all_times: dict[str, list[float]] = {}
    where_data: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp_dir:
        tmp = Path(tmp_dir)
        for monitors in monitors_list:
            async with Stack(monitors, tmp) as stack:
                await stack.scan(5)  # warm-up (imports, first connections)
                samples: list[tuple[int, float]] = []
                cpu_per_pt: dict[str, list[float]] = {}
                cmds_per_pt: list[float] = []
                cmd_mix: Counter[str] = Counter()
                biggest = max(sizes)
                for steps in sizes:
                    times = []
                    for _ in range(repeats):
                        if steps == biggest:
                            cpu0, cmd0 = stack.cpu(), await stack.commands()
                        seconds, arrivals = await stack.scan(steps)
                        times.append(seconds)
                        if steps == biggest:
                            cpu1, cmd1 = stack.cpu(), await stack.commands()
                            for name in cpu1:
                                cpu_per_pt.setdefault(name, []).append(
                                    (cpu1[name] - cpu0[name]) / steps * 1e3
                                )
                            delta = cmd1 - cmd0
                            delta["info"] = 0
                            cmd_mix += delta
                            cmds_per_pt.append(sum(delta.values()) / steps)
                            hist[monitors] = intervals_ms(arrivals)
                    samples += [(steps, t) for t in times]
                    all_times[f"{monitors}/{steps}"] = times
                    st = Stats(times).scaled(1e3)
                    rows.append(
                        [f"{monitors} monitors", steps, st.median, st.p99, st.spread(1), st.median / steps]
                    )
                slope, intercept = fit(samples)
                rows.append(
                    [
                        f"{monitors} monitors: fit",
                        "per point / fixed",
                        slope * 1e3,
                        "",
                        "",
                        f"fixed {intercept * 1e3:.1f} ms",
                    ]
                )
                curve["monitors"].append(monitors)
                curve["ms_per_point"].append(slope * 1e3)
                curve["fixed_ms"].append(intercept * 1e3)
                total = sum(cmd_mix.values()) or 1
                mix = ", ".join(
                    f"{name} {n / total * sum(cmds_per_pt) / len(cmds_per_pt):.1f}"
                    for name, n in cmd_mix.most_common(6)
                )
                where_data[str(monitors)] = {
                    "cmds": statistics.median(cmds_per_pt),
                    **{name: statistics.median(v) for name, v in cpu_per_pt.items()},
                }
                where.append(
                    [
                        f"{monitors} monitors, N={biggest}",
                        slope * 1e3,
                        statistics.median(cmds_per_pt),
                        statistics.median(cpu_per_pt["scan server"]),
                        statistics.median(cpu_per_pt["device server"]),
                        statistics.median(cpu_per_pt["redis"]),
                        mix,
                    ]
                )
                if profile:
                    est = slope * biggest + intercept + 1.0
                    outs = {
                        name: tmp / f"pyspy-{monitors}-{name.replace(' ', '-')}.txt" for name in stack.procs
                    }
                    spies = {
                        name: pyspy_start(stack.procs[name].pid, outs[name], est) for name in stack.procs
                    }
                    if all(spies.values()):
                        await stack.scan(biggest)
                        for spy in spies.values():
                            assert spy is not None
                            try:
                                spy.wait(est + 30)
                            except subprocess.TimeoutExpired:
                                stop_group(spy)
                        for name, out in outs.items():
                            if profile_out is not None and out.exists():
                                profile_out.mkdir(parents=True, exist_ok=True)
                                shutil.copy(out, profile_out / out.name)
                            idle, top = pyspy_top(out)
                            text = "; ".join(f"`{fn}` {share:.0f}%" for fn, share in top) or "no samples"
                            profiles.append(
                                f"py-spy, {name}, {monitors} monitors, N={biggest}: idle {idle:.0f}% of samples; "
                                f"top-5 self time of the busy samples: {text}"
                            )
                    else:
                        profiles.append("py-spy not found: no profile")
                if monitors == monitors_list[0] and umv_count:
                    await stack.umv(0.0)
                    umv_times = [await stack.umv(float(i % 5)) for i in range(umv_count)]
    scans = Table(
        f"Step scan (line_scan, samx delay 0, exp_time 0): request sent → last segment received, {repeats} runs each",
        ["device set", "N", "median ms", "p99 ms", "min-max ms", "ms / point"],
        rows,
        notes=[
            "bec-device-server and bec-scan-server run as processes against a private redis-server; a "
            "bec_core connector sends the ScanQueueMessage and receives the scan segments. The fit row is "
            "the least-squares slope (per point) and intercept (fixed cost per scan) over every run.",
        ],
        key="scans",
        data={"hist": hist, "curve": curve, "times": all_times},
    )
    where_table = Table(
        "Where the time goes (step scan, per point)",
        [
            "case",
            "wall ms/pt (fit)",
            "Redis cmds/pt",
            "scan server CPU ms/pt",
            "device server CPU ms/pt",
            "redis CPU ms/pt",
            "commands per point, by kind",
        ],
        where,
        notes=[
            "Redis commands counted with INFO commandstats over the N-point scans (every client, so including "
            "heartbeats; a pipeline counts each command); CPU = utime+stime deltas from /proc/<pid>/stat over "
            "the same scans, divided by points, median over the runs.",
            *profiles,
        ],
        key="where",
        data=where_data,
    )
    um = Stats(umv_times).scaled(1e3)
    umv = Table(
        "umv round trip (request → req_status), scan server + device server",
        ["measure", "runs", "median ms", "p99 ms", "spread ms"],
        [["umv samx (delay-0 motor)", um.n, um.median, um.p99, um.spread(2)]],
        key="umv",
        data={"umv_s": umv_times},
    )
    return [scans, where_table, umv]


# --------------------------------------------------------------------------- long scan and fan-out
def start_subscriber(url: str, points: int, log_dir: Path, index: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.subscriber", "--url", url, "--points", str(points)],
        stdout=subprocess.PIPE,
        stderr=open(log_dir / f"subscriber{index}.log", "w"),
        text=True,
        start_new_session=True,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    return proc


def wait_ready(proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"subscriber did not get ready: {line!r}")


def subscriber_result(proc: subprocess.Popen[str], timeout: float) -> dict[str, object]:
    assert proc.stdout is not None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        return {"error": "timeout"}
    for line in reversed(out.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return {"error": f"no result (exit {proc.returncode})"}


async def biggest_keys(conn: AsyncRedisConnector, top: int = 5) -> str:
    """Key count, used_memory and the ``top`` keys by MEMORY USAGE (what a growing Redis holds)."""
    r = conn.redis
    sizes = []
    async for key in r.scan_iter(count=1000):
        usage = await r.memory_usage(key) or 0
        sizes.append((usage, key.decode() if isinstance(key, bytes) else key))
    sizes.sort(reverse=True)
    info = await r.info("memory")
    parts = []
    for usage, key in sizes[:top]:
        kind = await r.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        length = await {
            "stream": r.xlen,
            "list": r.llen,
            "hash": r.hlen,
            "set": r.scard,
            "zset": r.zcard,
        }.get(kind, r.strlen)(key)
        parts.append(f"`{key}` ({kind}, {length:,} entries, {usage / 2**20:.1f} MiB)")
    prefixes = Counter(
        "/".join("<id>" if len(part) >= 32 else "<n>" if part.isdigit() else part for part in key.split("/"))
        for _, key in sizes
    )
    common = ", ".join(f"`{p}` {n:,}" for p, n in prefixes.most_common(3))
    head = f"{len(sizes):,} keys (most common patterns: {common}), used_memory {info['used_memory'] / 2**20:.1f} MiB"
    return head + "; largest: " + "; ".join(parts)


async def measure_long(points: int, monitors: int = 4, scan_type: str = "time_scan") -> Table:
    """One ``points``-point scan: RSS of every process sampled along the way, and lost segments."""
    samples: list[tuple[float, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp_dir:
        tmp = Path(tmp_dir)
        async with Stack(monitors, tmp) as stack:
            await stack.scan(5, scan_type)
            sub = start_subscriber(stack.client_url, points, tmp, 0)
            try:
                wait_ready(sub)
                pids = {**stack.pids(), "subscriber": sub.pid}
                stop = asyncio.Event()

                async def sample() -> None:
                    t0 = time.perf_counter()
                    while not stop.is_set():
                        samples.append((time.perf_counter() - t0, {n: rss_mib(p) for n, p in pids.items()}))
                        try:
                            await asyncio.wait_for(stop.wait(), 1.0)
                        except TimeoutError:
                            pass

                sampler = asyncio.create_task(sample())
                cpu0 = stack.cpu()
                seconds, arrivals = await stack.scan(points, scan_type)
                cpu1 = stack.cpu()
                keys = await biggest_keys(stack.conn)
                await asyncio.sleep(1.0)
                stop.set()
                await sampler
                samples.append((samples[-1][0] + 1, {n: rss_mib(p) for n, p in pids.items()}))
                result = await asyncio.to_thread(subscriber_result, sub, 120)
            finally:
                stop_group(sub)
    rows: list[list[object]] = []
    names = ["redis", "device server", "scan server", "subscriber"]
    for name in names:
        series = [s[1][name] for s in samples if s[1][name] == s[1][name]]
        if not series:
            continue
        start, mid, end = series[0], series[len(series) // 2], series[-1]
        rows.append([name, start, mid, end, max(series), end - start])
    cpu = {n: (cpu1[n] - cpu0[n]) / points * 1e3 for n in cpu1}
    lost = result.get("missing", "?")
    notes = [
        f"{scan_type}(points={points:,}, interval=0, exp_time=0) with {monitors} SimMonitors: "
        f"{seconds:.1f} s request → last segment ({points / seconds:,.0f} points/s), "
        f"{len(arrivals):,} segments seen by the driver.",
        f"Subscriber process (bec_core connector, separate connection): received {result.get('received')}, "
        f"unique point_ids {result.get('unique')} of {points:,}, duplicates {result.get('duplicates')}, "
        f"**lost {lost}**, contiguous 0..N-1: **{result.get('contiguous')}**, dropped by its queue "
        f"{result.get('dropped')}." + (f" Error: {result['error']}" if "error" in result else ""),
        "CPU ms/point over the scan: "
        + ", ".join(f"{n} {v:.3f}" for n, v in cpu.items())
        + f". RSS sampled every second ({len(samples)} samples); start = first sample after the subscriber "
        "was ready, mid = middle sample, end = 1 s after the last segment.",
        f"Redis after the scan: {keys}",
    ]
    return Table(
        f"Long scan: {points:,} points, RSS per process (MiB) and lost segments",
        ["process", "start", "mid", "end", "max", "end - start"],
        rows,
        notes=notes,
        key="long",
        data={"result": result, "seconds": seconds, "rss": samples},
    )


async def measure_fanout(points: int, subscribers: int = 10, monitors: int = 4) -> Table:
    """One ``points``-point line scan followed by ``subscribers`` subscriber processes."""
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp_dir:
        tmp = Path(tmp_dir)
        async with Stack(monitors, tmp) as stack:
            await stack.scan(5)
            alone, _ = await stack.scan(points)
            subs = [start_subscriber(stack.client_url, points, tmp, i) for i in range(subscribers)]
            try:
                for sub in subs:
                    wait_ready(sub)
                seconds, _ = await stack.scan(points)
                results = [await asyncio.to_thread(subscriber_result, sub, 120) for sub in subs]
            finally:
                for sub in subs:
                    stop_group(sub)
    rows = []
    for i, r in enumerate(results):
        rows.append(
            [
                f"subscriber {i + 1}",
                r.get("received"),
                r.get("unique"),
                r.get("missing"),
                r.get("duplicates"),
                str(r.get("contiguous", r.get("error"))),
            ]
        )
    all_ok = all(r.get("contiguous") is True for r in results)
    return Table(
        f"Fan-out: one {points:,}-point line_scan, {subscribers} subscriber processes (separate connections)",
        ["subscriber", "received", "unique point_ids", "missing", "duplicates", "contiguous 0..N-1"],
        rows,
        notes=[
            f"All {subscribers} complete and contiguous: **{all_ok}**. Scan time with the subscribers "
            f"{seconds * 1e3:,.0f} ms vs {alone * 1e3:,.0f} ms without ({seconds / points * 1e3:.2f} vs "
            f"{alone / points * 1e3:.2f} ms/point; 2 cores shared by the 10 subscribers and the stack).",
        ],
        key="fanout",
        data={"all_ok": all_ok},
    )


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--monitors", type=int, nargs="+", default=[4, 50])
    parser.add_argument("--umv", type=int, default=30, help="umv round trips to time")
    parser.add_argument("--profile", action="store_true", help="py-spy the servers during one scan")
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's raw stacks (folded) in this folder")
    parser.add_argument("--long", type=int, default=0, help="also one long time_scan of this many points")
    parser.add_argument("--fanout", type=int, default=0, help="also a fan-out scan of this many points")
    args = parser.parse_args()

    async def all_() -> list[Table]:
        tables = await measure_scans(
            args.sizes, args.monitors, args.repeats, args.umv, args.profile, args.profile_out
        )
        if args.long:
            tables.append(await measure_long(args.long))
        if args.fanout:
            tables.append(await measure_fanout(args.fanout))
        return tables

    print_tables(run_async(all_()))


if __name__ == "__main__":
    main()
