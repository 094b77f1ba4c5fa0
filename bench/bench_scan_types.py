"""Per-point cost of the scan types beside line_scan's, in the same run and the same stack.

    python -m bench.bench_scan_types [--repeats 3] [--sizes 20 200]

One stack (bench_scan_server.Stack: private redis-server, ``bec-device-server``
with samx, samy and 4 SimMonitors, ``bec-scan-server``), and for each scan type
two sizes: request sent → the scan's ``closed`` status, least-squares slope over
(points, seconds) of every run = ms per point. The hosted stock-class scan is
bec-testing-plugin's ``custom_testing_scan`` (a stock ``LineScan`` subclass),
installed with ``pip install --target DIR --no-deps bec-server==4.3.2
bec-testing-plugin==0.4.0 libtmux`` and given to the scan server with
``BEC_SCAN_PLUGIN_PATHS`` (docs/decisions/0006); without pip's cache or the index
that row is reported as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueMessage, ScanStatusMessage
from bench.bench_scan_server import MONITOR, MOTOR, Stack, fit
from bench.common import Stats, Table, print_tables, run_async

STOCK = ("bec-server==4.3.2", "bec-testing-plugin==0.4.0", "libtmux")

#: scan type -> parameter for about ``n`` points
CASES: dict[str, Callable[[int], dict[str, Any]]] = {
    "line_scan": lambda n: {"args": {"samx": [-5, 5]}, "kwargs": {"steps": n, "relative": False}},
    "log_scan": lambda n: {"args": {"samx": [1, 10]}, "kwargs": {"steps": n, "relative": False}},
    "multi_region_line_scan": lambda n: {
        "args": ["samx"],
        "kwargs": {"regions": [(-5, 0, n // 2), (1, 5, n - n // 2)], "relative": False},
    },
    "multi_region_grid_scan": lambda n: {
        "args": ["samx", "samy"],
        "kwargs": {"regions": [((-1, 1, max(2, n // 10)), (-1, 1, 10))], "relative": False},
    },
    "hexagonal_scan": lambda n: {
        "args": ["samx", -5, 5, 10 / math.sqrt(n), "samy", -5, 5, 10 / math.sqrt(n)],
        "kwargs": {"relative": False},
    },
    "round_roi_scan": lambda n: {
        "args": ["samx", -5, 5, "samy", -5, 5],
        "kwargs": {"shell_spacing": 10 / math.sqrt(n), "pos_in_first_ring": 6, "relative": False},
    },
    # points = readback updates while swx sweeps (velocity 100/s, 200 updates/s): about 2 per unit
    "line_sweep_scan": lambda n: {"args": ["swx", 0, n / 2], "kwargs": {"relative": False}},
    "custom_testing_scan": lambda n: {"args": {"samx": [-5, 5]}, "kwargs": {"steps": n, "relative": False}},
}
HOSTED = "custom_testing_scan"


SWEEP_MOTOR = """swx:
  deviceClass: ophyd_devices.SimPositioner
  deviceConfig: {delay: 1, update_frequency: 200, limits: [-1000, 1000], tolerance: 0.01}
  readoutPriority: baseline
  enabled: true
  readOnly: false
  softwareTrigger: false
"""


def devices_yaml(monitors: int) -> str:
    samy = MOTOR.replace("samx", "samy")
    return MOTOR + samy + SWEEP_MOTOR + "".join(MONITOR.format(i=i) for i in range(monitors))


def stock_site(tmp: Path) -> Path | None:
    """Stock bec-server and bec-testing-plugin in a --target directory (None if pip cannot)."""
    site = tmp / "stock-site"
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), *STOCK]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return site if done.returncode == 0 else None


async def run_scan(stack: Stack, scan_type: str, parameter: dict[str, Any]) -> tuple[float, int]:
    """(seconds from request to ``closed``, points received)."""
    rid = str(uuid.uuid4())
    parameter["kwargs"] = {"exp_time": 0, "system_config": {}, **parameter["kwargs"]}
    msg = ScanQueueMessage(scan_type=scan_type, parameter=parameter, metadata={"RID": rid})
    points = 0
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    scan_ids: set[str] = set()

    def on_segment(item: Any) -> None:
        nonlocal points
        values = item.value if isinstance(item.value, list) else [item.value]
        points += sum(1 for v in values if getattr(v, "scan_id", None) in scan_ids)

    def on_response(item: Any) -> None:
        value = item.value
        if getattr(value, "metadata", {}).get("RID") == rid and not value.accepted and not done.done():
            done.set_exception(RuntimeError(f"{scan_type} refused: {value.message}"))

    def on_status(item: Any) -> None:
        value = item.value
        if not isinstance(value, ScanStatusMessage) or value.metadata.get("RID") != rid:
            return
        scan_ids.add(value.scan_id)
        if value.status in ("closed", "aborted", "halted") and not done.done():
            done.set_result(value.status)

    seg, status = MessageEndpoints.scan_segment(), MessageEndpoints.scan_status()
    await stack.conn.register(seg, on_segment)
    await stack.conn.register(status, on_status)
    response = MessageEndpoints.scan_queue_request_response()
    await stack.conn.register(response, on_response)
    try:
        t0 = time.perf_counter()
        await stack.conn.send(MessageEndpoints.scan_queue_request("default"), msg)
        end = await asyncio.wait_for(done, 60)
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(0.05)  # segments published before the status may still be in flight
        if end != "closed":
            raise RuntimeError(f"{scan_type} ended {end}")
        return elapsed, points
    finally:
        await stack.conn.unregister(seg, on_segment)
        await stack.conn.unregister(status, on_status)
        await stack.conn.unregister(response, on_response)


async def measure(sizes: list[int], repeats: int, monitors: int = 4) -> Table:
    """One stack, every scan type at every size; the per-point table."""
    rows: list[list[object]] = []
    notes: list[str] = []
    data: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-types-") as tmp_dir:
        tmp = Path(tmp_dir)
        site = stock_site(tmp)
        cases = dict(CASES)
        if site is None:
            cases.pop(HOSTED)
            notes.append(f"{HOSTED} (hosted stock class) skipped: pip could not install {' '.join(STOCK)}")
        else:
            os.environ["BEC_SCAN_PLUGIN_PATHS"] = str(site)
        stack = Stack(monitors, tmp)
        (stack.tmp / "devices.yaml").write_text(devices_yaml(monitors))
        try:
            async with stack:
                for scan_type, parameter in cases.items():
                    await run_scan(stack, scan_type, parameter(10))  # warm-up (a hosted scan's first start)
                    samples: list[tuple[int, float]] = []
                    cpu_ms, cpu_points = 0.0, 0
                    for size in sizes:
                        for _ in range(repeats):
                            cpu0 = stack.cpu()["scan server"]
                            seconds, points = await run_scan(stack, scan_type, parameter(size))
                            samples.append((points, seconds))
                            if size == max(sizes):
                                cpu_ms += (stack.cpu()["scan server"] - cpu0) * 1e3
                                cpu_points += points
                    slope, intercept = fit(samples)
                    per = Stats(
                        [s / max(p, 1) for p, s in samples if p == max(p for p, _ in samples)]
                    ).scaled(1e3)
                    cpu = cpu_ms / max(cpu_points, 1)
                    largest = max(p for p, _ in samples)
                    rows.append([scan_type, largest, slope * 1e3, intercept * 1e3, per.median, cpu])
                    data[scan_type] = {
                        "ms_per_point": slope * 1e3,
                        "fixed_ms": intercept * 1e3,
                        "cpu_ms": cpu,
                    }
        finally:
            os.environ.pop("BEC_SCAN_PLUGIN_PATHS", None)
    base = data.get("line_scan", {}).get("ms_per_point")
    if base:
        for row in rows:
            row.append(f"{row[2] / base:.2f}x")
    return Table(
        f"Scan types per point beside line_scan (samx, samy delay 0, {monitors} monitors, exp_time 0), "
        f"request → closed, {repeats} runs per size",
        [
            "scan",
            "points (largest)",
            "ms / point (fit)",
            "fixed ms (fit)",
            "ms / point (largest, median)",
            "scan server CPU ms / point",
            "wall vs line_scan",
        ],
        rows,
        notes=[
            "Same stack and run for every row; slope and intercept of a least-squares fit over (points, "
            "seconds) of every run. custom_testing_scan is a stock LineScan subclass from bec-testing-plugin "
            "hosted through the stock adapter (its hooks in a worker thread, one instruction per action as "
            "stock sends them: set, trigger, read per point, against line_scan's one `point` instruction).",
            "line_sweep_scan's points are the readback updates of a moving motor (swx, ophyd_devices "
            "SimPositioner, velocity 100/s, 200 updates/s): its wall time per point is the motion's pace "
            "(5 ms per update), not the scan server's cost; compare its scan-server CPU per point instead "
            "(utime+stime of the scan server over the largest runs, divided by their points).",
            *notes,
        ],
        key="scan_types",
        data=data,
    )


def main() -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200])
    args = parser.parse_args()
    print_tables([run_async(measure(args.sizes, args.repeats))])


if __name__ == "__main__":
    main()
