"""Step-scan cost of bec-core beside stock BEC 4.3, measured in one invocation: the figures of issue 17.

    python -m bench.compare_scans [--sizes 10 200] [--monitors 4 50] [--repeats 5] [--venv /work/stockvenv]

For each device set (1 instant motor + M monitors, the same YAML for both): bec-core's
device server and scan server as processes against a private redis-server, a
bec_core connector sending ``line_scan(samx, -5, 5, steps=N, exp_time=0)`` and
timing request → last segment; then stock BEC's six services against their own
redis-server, driven by stock bec_lib (``bench/stock_driver.py``), same scans. Per
point = least-squares slope over every run, fixed cost = its intercept; each
repeat also gives its own per-point estimate ((t(N_max) - median t(N_min)) /
(N_max - N_min)), whose min-max is the spread. CPU per point = utime+stime of all
processes of the stack over the largest scans, divided by points. With ``--opd M``
also bec-core hosting ophyd_devices' SimPositioner + M SimMonitors (the classes stock
runs), and the floor of those classes: their own work per point alone, called as deep
as a server calls them (``bench_opd_points.sim_floor``), with stock / floor, the best
ratio any server could reach with them. Prints a Markdown table (and ``--json`` the
raw numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_bec import DEFAULT_VENV
from bench.bench_bec import run as run_stock
from bench.bench_opd_points import SERVER_DEPTH, sim_floor
from bench.bench_scan_server import OWN_SIMS, STOCK_SIMS, Stack, fit


async def measure_core(
    sizes: list[int], monitors_list: list[int], repeats: int, classes: str = OWN_SIMS
) -> dict[str, Any]:
    """bec-core: ``{monitors: {"times": {N: [s]}, "cpu": {process: [ms/pt]}}}``."""
    out: dict[str, Any] = {}
    biggest = max(sizes)
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        for monitors in monitors_list:
            async with Stack(monitors, Path(tmp), classes) as stack:
                await stack.scan(5)
                await stack.scan(50)  # warm-up: imports, connections, caches
                times: dict[int, list[float]] = {n: [] for n in sizes}
                cpu: dict[str, list[float]] = {}
                for _ in range(repeats):  # sizes interleaved: slow drifts hit every size alike
                    for steps in sizes:
                        before = stack.cpu()
                        seconds, _ = await stack.scan(steps)
                        times[steps].append(seconds)
                        if steps == biggest:
                            after = stack.cpu()
                            for name in after:
                                cpu.setdefault(name, []).append((after[name] - before[name]) / steps * 1e3)
                out[str(monitors)] = {"times": {str(n): v for n, v in times.items()}, "cpu": cpu}
    return out


def figures(times: dict[str, list[float]]) -> dict[str, Any]:
    """Per point (slope) and fixed cost (intercept), ms, with per-repeat per-point spread."""
    samples = [(int(n), t) for n, ts in times.items() for t in ts]
    slope, intercept = fit(samples)
    sizes = sorted(int(n) for n in times)
    small, big = sizes[0], sizes[-1]
    base = statistics.median(times[str(small)])
    per_run = [(t - base) / (big - small) * 1e3 for t in times[str(big)]] if big > small else []
    return {
        "per_point_ms": slope * 1e3,
        "fixed_ms": intercept * 1e3,
        "per_point_runs": per_run,
        "medians_ms": {str(n): statistics.median(times[str(n)]) * 1e3 for n in sizes},
    }


def spread(values: list[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}" if values else ""


def table(
    core: dict[str, Any], stock: dict[str, Any], command: str, opd: dict[str, Any] | None = None
) -> str:
    """The Markdown table of the figures (bec-core, stock, ratio); ``opd``: bec-core hosting
    ophyd_devices' SimPositioner/SimMonitor (the classes stock runs)."""
    rows = [
        "| figure | bec-core | spread | stock BEC 4.3 | spread | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    scans = stock.get("driver", {}).get("scans", {})
    where = stock.get("driver", {}).get("where", {})
    for monitors, data in core.items():
        c = figures(data["times"])
        s = figures({n: v for n, v in scans[monitors].items()}) if monitors in scans else None
        ratio = f"{s['per_point_ms'] / c['per_point_ms']:.1f}x" if s and c["per_point_ms"] > 0 else ""
        rows.append(
            f"| per point, 1 motor + {monitors} monitors (ms, fit) | {c['per_point_ms']:.3f} | "
            f"{spread(c['per_point_runs'], 3)} | {s['per_point_ms']:.2f} | {spread(s['per_point_runs']) if s else ''} | "
            f"{ratio} |"
            if s
            else f"| per point, 1 motor + {monitors} monitors (ms, fit) | {c['per_point_ms']:.3f} | "
            f"{spread(c['per_point_runs'], 3)} | not measured |  |  |"
        )
        fixed_ratio = f"{s['fixed_ms'] / c['fixed_ms']:.1f}x" if s and c["fixed_ms"] > 0 else ""
        rows.append(
            f"| fixed cost per scan, {monitors} monitors (ms, fit intercept) | {c['fixed_ms']:.1f} |  | "
            f"{s['fixed_ms']:.1f} |  | {fixed_ratio} |"
            if s
            else f"| fixed cost per scan, {monitors} monitors (ms, fit intercept) | {c['fixed_ms']:.1f} |  |  |  |  |"
        )
        for n, median in c["medians_ms"].items():
            sm = s["medians_ms"].get(n) if s else None
            rows.append(
                f"| line_scan N={n}, {monitors} monitors: request → last segment (ms, median) | {median:.1f} | "
                f"{spread([t * 1e3 for t in data['times'][n]], 1)} | "
                f"{'' if sm is None else f'{sm:.0f}'} | "
                f"{spread([t * 1e3 for t in scans[monitors][n]], 0) if sm is not None else ''} | "
                f"{'' if sm is None else f'{sm / median:.1f}x'} |"
            )
        total = [sum(v) for v in zip(*data["cpu"].values(), strict=True)]
        stock_cpu = where.get(monitors, {}).get("cpu_ms_per_point", {})
        stock_total = sum(stock_cpu.values()) if stock_cpu else None
        parts = ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in data["cpu"].items())
        rows.append(
            f"| CPU per point, all processes, {monitors} monitors (ms; {parts}) | {statistics.median(total):.3f} | "
            f"{spread(total, 3)} | {'' if stock_total is None else f'{stock_total:.2f}'} |  | "
            f"{'' if not stock_total else f'{stock_total / statistics.median(total):.1f}x'} |"
        )
    for monitors, data in (opd or {}).items():
        c = figures(data["times"])
        s = figures(dict(scans[monitors])) if monitors in scans else None
        stock_pp = "" if s is None else f"{s['per_point_ms']:.2f}"
        ratio = "" if s is None or c["per_point_ms"] <= 0 else f"{s['per_point_ms'] / c['per_point_ms']:.1f}x"
        rows.append(
            f"| per point, ophyd_devices SimPositioner + {monitors} SimMonitors in bec-core (ms, fit) | "
            f"{c['per_point_ms']:.3f} | {spread(c['per_point_runs'], 3)} | {stock_pp} |  | {ratio} |"
        )
        floor = data.get("floor_ms")
        if floor:
            best = "" if s is None else f"{s['per_point_ms'] / statistics.median(floor):.1f}x"
            rows.append(
                f"| the floor: ophyd_devices' own work per point alone, {SERVER_DEPTH} frames deep as in a "
                f"server (CPU ms; ratio = the best possible, stock / floor) | {statistics.median(floor):.3f} | "
                f"{spread(floor, 3)} |  |  | {best} |"
            )
    return "\n".join(rows) + f"\n\nCommand: `{command}`\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--monitors", type=int, nargs="+", default=[4, 50])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="stock BEC's venv")
    parser.add_argument("--no-stock", action="store_true", help="bec-core only")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument(
        "--opd",
        type=int,
        nargs="*",
        default=[4],
        help="also bec-core with ophyd_devices' sims (stock's classes)",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    core = asyncio.run(measure_core(args.sizes, args.monitors, args.repeats))
    opd = asyncio.run(measure_core(args.sizes, args.opd, args.repeats, STOCK_SIMS)) if args.opd else {}
    for monitors in opd:  # what any server pays per point with these classes (bench_opd_points)
        opd[monitors]["floor_ms"] = sim_floor(int(monitors), depth=SERVER_DEPTH)
    stock: dict[str, Any] = {}
    if not args.no_stock:
        stock = run_stock(args.sizes, args.monitors, args.repeats, 0, client_rounds=0, venv=args.venv)
        for err in stock.get("errors", []):
            print(f"stock: {err}", file=sys.stderr)
    command = "python -m bench.compare_scans " + " ".join(sys.argv[1:])
    print(table(core, stock, command.strip(), opd))
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"core": core, "opd": opd, "stock": stock}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
