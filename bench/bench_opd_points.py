"""Per point with ophyd_devices classes: bec-core's device server vs stock BEC's, same config, same run.

    python -m bench.bench_opd_points [--monitors 4 50] [--points 300] [--repeats 3] [--port 23520]

The device YAML: ``samx`` an ``ophyd_devices.SimPositioner`` (``delay: 0``:
it moves at once) and M ``ophyd_devices.SimMonitor`` (``mon0``...), monitored.
For each M, each device server runs as its own process against a private
redis-server and is driven with step-scan points one at a time, each awaited:

* bec-core: one ``point`` instruction (set samx, read samx + the monitors), as
  bec-core's scan server sends it (the driver of ``bench_device_server --point``);
* stock: what stock's scan server sends for a ``line_scan`` point: ``set samx``
  then ``read`` of samx + the monitors, each awaited (``bench/stock_device_driver.py``,
  run with the stock venv's python; the config is loaded by stock's device server
  from ``info/devices/config`` at start).

For reference the same driver also runs bec-core with its own fast sims
(``bec_device_server.sim.*``) on the same device names. Reported: points/s
and the CPU ms per point of the device server process and of redis-server
(utime+stime from /proc over the timed points), median and min-max over the
repeats; the ratio is stock / bec-core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bec_core.redis_server import RedisServer
from bench.bench_device_server import PointDriver, wait_running
from bench.bench_scan_server import STOCK_SIMS, devices_yaml
from bench.bench_startup import WRITE_CONFIG, default_stock_venv
from bench.common import Stats, Table, cpu_seconds, print_table, run_async, spawn, stop_group

HERE = Path(__file__).resolve().parent


FLOOR = """
import sys, time, types
import ophyd_devices as opd
monitors, n, depth = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
samx = opd.SimPositioner(name="samx", delay=0, limits=[-50, 50])
dm = types.SimpleNamespace(devices={"samx": types.SimpleNamespace(obj=samx)})
mons = [opd.SimMonitor(name=f"mon{i}", device_manager=dm) for i in range(monitors)]
def points(count, start):
    for i in range(start, start + count):
        samx.set(-5.0 + 10.0 * (i % 100) / 99).wait()
        samx.read()
        for mon in mons:
            mon.read()
def nested(k, count, start):  # ``depth`` frames between this script's top level and the devices
    return points(count, start) if k <= 1 else nested(k - 1, count, start)
nested(depth, 100, 0)
t0 = time.process_time()
nested(depth, n, 100)
print((time.process_time() - t0) / n * 1e3)
"""


#: how deep a server calls its devices, at least: ophyd_devices' subscription patch records the
#: innermost 12 frames of every subscribe (``traceback.extract_stack(limit=12)``), and a device's
#: ``set`` in any server (bec-core's asyncio loop, stock's threads) is more frames deep than that
SERVER_DEPTH = 12


def sim_floor(monitors: int, points: int = 1000, runs: int = 3, depth: int = 1) -> list[float]:
    """CPU ms per point of ophyd_devices' own work alone (set samx and wait, read samx and every
    monitor; in a fresh interpreter, no server, no Redis), called ``depth`` frames down from the
    script's top level: what any device server pays at least (at :data:`SERVER_DEPTH`)."""
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", FLOOR, str(monitors), str(points), str(depth)],
            capture_output=True,
            text=True,
            check=True,
        )
        out.append(float(done.stdout.strip().splitlines()[-1]))
    return out


def opd_yaml(monitors: int) -> str:
    """One ophyd_devices SimPositioner and ``monitors`` ophyd_devices SimMonitors."""
    return devices_yaml(monitors, STOCK_SIMS)


async def ours(
    config: Path, monitors: int, points: int, repeats: int, warmup: int, tmp: Path, port: int | None
) -> dict[str, list[float]]:
    """bec-core's device server process driven with ``point`` instructions."""
    out: dict[str, list[float]] = {"rates": [], "cpu_ms": [], "redis_cpu_ms": []}
    with RedisServer(port=port, persistence="none") as server:
        cmd = [sys.executable, "-m", "bec_device_server.cli", "--redis", server.url]
        cmd += ["--config", str(config), "--log-level", "WARNING"]
        proc = spawn(cmd, tmp / f"ours-{config.stem}.log")
        try:
            await wait_running(server.url, proc, timeout=120)
            driver = PointDriver(server.url, monitors)
            await driver.start()
            await driver.run(warmup, check_every=10)
            for _ in range(repeats):
                cpu0, rcpu0 = cpu_seconds(proc.pid), cpu_seconds(server.pid or 0)
                t0 = time.perf_counter()
                await driver.run(points)
                wall = time.perf_counter() - t0
                out["rates"].append(points / wall)
                out["cpu_ms"].append((cpu_seconds(proc.pid) - cpu0) / points * 1e3)
                out["redis_cpu_ms"].append((cpu_seconds(server.pid or 0) - rcpu0) / points * 1e3)
            await driver.run(5, check_every=1)
            await driver.close()
        finally:
            stop_group(proc)
    return out


def stock(
    venv: Path,
    config: Path,
    monitors: int,
    points: int,
    repeats: int,
    warmup: int,
    tmp: Path,
    port: int | None,
) -> dict[str, list[float]]:
    """Stock's device server process driven by ``stock_device_driver.py`` (stock venv)."""
    python = venv / "bin" / "python"
    with RedisServer(port=port, persistence="none") as server:
        subprocess.run(
            [str(python), "-c", WRITE_CONFIG, str(server.port), str(config)], check=True, capture_output=True
        )
        log = tmp / f"stock-{config.stem}.log"
        proc = spawn(
            [str(venv / "bin" / "bec-device-server"), "--bec-server", f"127.0.0.1:{server.port}"],
            log,
            cwd=tmp,
        )
        try:
            client = redis.Redis(port=server.port)
            deadline = time.monotonic() + 180
            from bec_core.messages import BECStatus
            from bec_core.serialization import loads

            while True:
                raw = client.get("user/services/status/DeviceServer")
                if raw is not None and getattr(loads(raw), "status", None) == BECStatus.RUNNING:
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"stock device server did not start; see {log}")
                time.sleep(0.05)
            client.close()
            done = subprocess.run(
                [
                    str(python),
                    str(HERE / "stock_device_driver.py"),
                    "--port", str(server.port),
                    "--pid", str(proc.pid),
                    "--redis-pid", str(server.pid or 0),
                    "--monitors", str(monitors),
                    "--points", str(points),
                    "--repeats", str(repeats),
                    "--warmup", str(warmup),
                ],
                capture_output=True,
                text=True,
                timeout=1800,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"stock driver failed: {done.stderr.strip()[-800:]}")
            return json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            stop_group(proc)


def measure(
    monitors_list: list[int], points: int, repeats: int, warmup: int, venv: Path, port: int | None
) -> dict[str, Any]:
    """Every side for every M: ``{M: {"opd": ..., "sims": ..., "stock": ...}}`` plus errors."""
    result: dict[str, Any] = {"rows": {}, "errors": []}
    with tempfile.TemporaryDirectory(prefix="bench-opd-") as tmp_dir:
        tmp = Path(tmp_dir)
        for monitors in monitors_list:
            opd = tmp / f"opd{monitors}.yaml"
            opd.write_text(opd_yaml(monitors))
            sims = tmp / f"sims{monitors}.yaml"
            sims.write_text(devices_yaml(monitors))
            row: dict[str, Any] = {}
            row["floor"] = sim_floor(monitors)
            row["floor_deep"] = sim_floor(monitors, depth=SERVER_DEPTH)
            row["opd"] = run_async(ours(opd, monitors, points, repeats, warmup, tmp, port))
            row["sims"] = run_async(ours(sims, monitors, points, repeats, warmup, tmp, port))
            try:
                row["stock"] = stock(
                    venv, opd, monitors, points, repeats, warmup, tmp, None if port is None else port + 1
                )
            except Exception as exc:  # reported; bec-core's figures still stand
                result["errors"].append(f"stock, {monitors} monitors: {type(exc).__name__}: {exc}")
            result["rows"][monitors] = row
    return result


def table(result: dict[str, Any], points: int, repeats: int) -> Table:
    """The side-by-side table."""
    rows: list[list[object]] = []
    curve: dict[str, list[float]] = {"monitors": [], "ours_cpu_ms": [], "stock_cpu_ms": []}
    for monitors, row in result["rows"].items():
        cells: dict[str, tuple[Stats, Stats]] = {}
        for side in ("opd", "sims", "stock"):
            if side in row:
                cells[side] = (Stats([1e3 / r for r in row[side]["rates"]]), Stats(row[side]["cpu_ms"]))
        for side, label in (
            ("opd", "bec-core, ophyd_devices classes"),
            ("stock", "stock BEC 4.3, ophyd_devices classes"),
            ("sims", "bec-core, its own sims"),
        ):
            if side not in cells:
                continue
            wall, cpu = cells[side]
            rcpu = Stats(row[side]["redis_cpu_ms"])
            ratio_wall = ratio_cpu = ""
            if side == "opd" and "stock" in cells:
                ratio_wall = f"{cells['stock'][0].median / wall.median:.1f}x"
                ratio_cpu = f"{cells['stock'][1].median / cpu.median:.1f}x"
            rows.append(
                [monitors, label, wall.median, wall.spread(2), cpu.median, cpu.spread(2), rcpu.median, ratio_wall, ratio_cpu]
            )  # fmt: skip
        for key, label in (
            ("floor", "ophyd_devices' own work alone (no server), called from a script's top level"),
            ("floor_deep", f"the same, called {SERVER_DEPTH} frames down, as a server calls it"),
        ):
            if key in row:
                floor = Stats(row[key])
                rows.append([monitors, label, "", "", floor.median, floor.spread(2), "", "", ""])
        if "opd" in cells and "stock" in cells:
            curve["monitors"].append(monitors)
            curve["ours_cpu_ms"].append(cells["opd"][1].median)
            curve["stock_cpu_ms"].append(cells["stock"][1].median)
    notes = [
        "Config: samx = `ophyd_devices.SimPositioner` (delay 0), mon0..monM-1 = `ophyd_devices.SimMonitor`, "
        "monitored; the same YAML for both servers. bec-core: one `point` instruction per point (set samx, "
        "read samx + monitors); stock: `set samx` then `read` samx + monitors, each awaited, as stock's scan "
        "server sends a line_scan point. Each server is its own process on its own redis-server; CPU = "
        f"utime+stime over {repeats} x {points} timed points (after a warm-up), divided by points; spread = "
        "min-max over the repeats; x = stock / bec-core with ophyd_devices classes (wall, CPU).",
        "bec-core with its own sims (`bec_device_server.sim.*`, same device names) is shown for reference.",
        "`ophyd_devices' own work alone`: the same point (samx.set(x).wait(), samx.read(), each monitor's "
        "read()) on the ophyd_devices objects in a bare interpreter, no server and no Redis (CPU ms per point, "
        "median of 3 x 1000 points): the floor every device server pays with these classes. It includes "
        "ophyd_devices' subscription patch, which walks the stack (traceback.extract_stack) on every "
        "subscribe, and SimPositioner subscribing two callbacks anew on every move. That walk takes the "
        f"innermost {SERVER_DEPTH} frames: called from a script's top level there are fewer; in a server "
        f"(any server: the device call is deeper than {SERVER_DEPTH} frames) there are always "
        f"{SERVER_DEPTH}, hence the second floor row.",
    ]
    notes += result["errors"]
    return Table(
        "Per point with ophyd_devices classes: device server alone, bec-core vs stock BEC 4.3 (same run)",
        ["M", "server", "ms / point", "spread", "server CPU ms/pt", "spread", "redis CPU ms/pt", "stock / bec-core wall", "stock / bec-core CPU"],
        rows,
        notes=notes,
        key="opd_points",
        data=curve,
    )  # fmt: skip


def run(
    monitors_list: list[int] | None = None,
    points: int = 300,
    repeats: int = 3,
    warmup: int = 50,
    venv: Path | None = None,
    port: int | None = None,
) -> Table:
    """Measure and return the table (the entry point of ``python -m bench``)."""
    monitors_list = monitors_list or [4, 50]
    result = measure(monitors_list, points, repeats, warmup, venv or default_stock_venv(), port)
    return table(result, points, repeats)


def main() -> int:
    """Run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, nargs="+", default=[4, 50])
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--stock-venv", type=Path, default=None, help="default: $BEC_STOCK_VENV, /work/stockvenv"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="Redis ports PORT and PORT+1 (default: free ones)"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    result = run(args.monitors, args.points, args.repeats, args.warmup, args.stock_venv, args.port)
    print(result.to_markdown()) if args.markdown else print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
