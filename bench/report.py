"""The Markdown report and its PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.common import Stats, Table, fmt


def _find(tables: list[Table], key: str) -> Table | None:
    return next((t for t in tables if t.key == key), None)


def _ratio(ours: float | None, theirs: float | None, better: str = "faster", worse: str = "slower") -> str:
    """How many times lower ``ours`` is than ``theirs`` (lower is better)."""
    if not ours or not theirs or ours != ours or theirs != theirs or ours < 0 or theirs < 0:
        return "-"  # a negative fit intercept means "within the noise", not a ratio
    r = theirs / ours
    return f"{r:.1f}x {better}" if r >= 1 else f"{1 / r:.1f}x {worse}"


def _intercept(value: float) -> float | str:
    """A fitted fixed cost; a negative intercept is shown as what it means (within the noise)."""
    return value if value >= 0 else f"≈0 (fit {value:.1f})"


def stock_fit(driver: dict[str, Any], monitors: str) -> tuple[float, float] | None:
    rows = driver.get("scans", {}).get(monitors)
    if not rows:
        return None
    pts = [(int(n), t) for n, times in rows.items() for t in times]
    if len({n for n, _ in pts}) < 2:
        return None
    slope, intercept = statistics.linear_regression([p[0] for p in pts], [p[1] for p in pts])
    return slope * 1e3, intercept * 1e3


# --------------------------------------------------------------------------- plots
def make_plots(tables: list[Table], stock: dict[str, Any] | None, out_dir: Path) -> dict[str, str]:
    """Write the PNGs; return {name: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    driver = (stock or {}).get("driver", {})
    scans = _find(tables, "scans")
    if scans and scans.data.get("hist"):
        hist = scans.data["hist"]
        fig, axes = plt.subplots(1, len(hist), figsize=(6 * len(hist), 4), squeeze=False)
        for ax, (monitors, values) in zip(axes[0], sorted(hist.items()), strict=False):
            stock_values = driver.get("hist", {}).get(str(monitors), [])
            top = max(Stats(values).p99, Stats(stock_values).p99 if stock_values else 0) * 1.3 or 1
            bins = [top * i / 60 for i in range(61)]
            ax.hist(
                [min(v, top) for v in values],
                bins=bins,
                alpha=0.7,
                label=f"bec-core (median {Stats(values).median:.2f} ms)",
            )
            if stock_values:
                ax.hist(
                    [min(v, top) for v in stock_values],
                    bins=bins,
                    alpha=0.6,
                    label=f"stock BEC 4.3 (median {Stats(stock_values).median:.2f} ms)",
                )
            stock_n = f", stock N={len(stock_values) + 1}" if stock_values else ""
            ax.set_title(f"line_scan, {monitors} monitors (bec-core N={len(values) + 1}{stock_n})")
            ax.set_xlabel("interval between consecutive segments [ms] (clipped at 1.3 x p99)")
            ax.set_ylabel("points")
            ax.set_yscale("log")
            ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "scan_intervals.png", dpi=100)
        plt.close(fig)
        made["hist"] = "scan_intervals.png"
    reads = _find(tables, "device_read")
    point = _find(tables, "device_point")
    if reads or scans:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        if reads:
            d = reads.data
            axes[0].plot(d["n"], d["ds_ms"], "o-", label="bec-core device server: one read of N devices")
            axes[0].plot(d["n"], d["raw_ms"], "s--", label="N raw SET+PUBLISH round trips (redis-py)")
            axes[0].set_xscale("log")
            axes[0].set_yscale("log")
            axes[0].set_xlabel("N devices")
            axes[0].set_ylabel("ms (median)")
            axes[0].set_title("Read and publish N devices")
            axes[0].legend(fontsize=8)
        ax = axes[1]
        if scans:
            c = scans.data["curve"]
            ax.plot(c["monitors"], c["ms_per_point"], "o-", label="bec-core step scan, wall ms/point (fit)")
        if point:
            ax.plot(
                point.data["monitors"],
                point.data["ms_per_point"],
                "^:",
                label="bec-core device server alone (point instr.)",
            )
            ax.plot(
                point.data["monitors"],
                point.data["ds_cpu_ms"],
                "x:",
                label="bec-core device server CPU ms/point",
            )
        fits = [(int(m), stock_fit(driver, m)) for m in driver.get("scans", {})]
        fits = [(m, f) for m, f in fits if f]
        if fits:
            ax.plot(
                [m for m, _ in fits],
                [f[0] for f in fits],
                "s--",
                label="stock BEC 4.3 step scan, ms/point (fit)",
            )
        ax.set_xlabel("monitored devices")
        ax.set_ylabel("ms per point")
        ax.set_yscale("log")
        ax.set_title("Per-point cost vs monitored devices")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "cost_vs_devices.png", dpi=100)
        plt.close(fig)
        made["cost"] = "cost_vs_devices.png"
    long = _find(tables, "long")
    if long and long.data.get("rss"):
        fig, ax = plt.subplots(figsize=(8, 4))
        samples = long.data["rss"]
        for name in samples[0][1]:
            ax.plot([s[0] for s in samples], [s[1][name] for s in samples], label=name)
        ax.set_xlabel("seconds since the scan request")
        ax.set_ylabel("RSS [MiB]")
        ax.set_title(long.title.split(",")[0])
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "long_scan_rss.png", dpi=100)
        plt.close(fig)
        made["rss"] = "long_scan_rss.png"
    return made


# --------------------------------------------------------------------------- stock tables
def stock_tables(tables: list[Table], stock: dict[str, Any]) -> list[Table]:
    """Side-by-side tables: bec-core (this run) vs stock BEC (this run)."""
    driver = stock.get("driver", {})
    out: list[Table] = []
    scans = _find(tables, "scans")
    if scans and driver.get("scans"):
        rows: list[list[object]] = []
        times = scans.data.get("times", {})
        for monitors, per_n in driver["scans"].items():
            for steps, theirs in per_n.items():
                ours = times.get(f"{monitors}/{steps}")
                o = Stats(ours).median * 1e3 if ours else float("nan")
                t = Stats(theirs)
                rows.append(
                    [
                        f"{monitors} monitors",
                        int(steps),
                        o,
                        t.median * 1e3,
                        f"{t.min * 1e3:.0f}-{t.max * 1e3:.0f}",
                        _ratio(o, t.median * 1e3),
                    ]
                )
            f = stock_fit(driver, monitors)
            curve = scans.data["curve"]
            if f and int(monitors) in curve["monitors"]:
                i = curve["monitors"].index(int(monitors))
                rows.append(
                    [
                        f"{monitors} monitors: ms per point (fit)",
                        "",
                        curve["ms_per_point"][i],
                        f[0],
                        "",
                        _ratio(curve["ms_per_point"][i], f[0]),
                    ]
                )
                rows.append(
                    [
                        f"{monitors} monitors: fixed ms per scan (fit)",
                        "",
                        curve["fixed_ms"][i],
                        f[1],
                        "",
                        _ratio(curve["fixed_ms"][i], f[1]),
                    ]
                )
        out.append(
            Table(
                "Step scan side by side: request → last segment received (ms, median), same run, same device set (bec-core: its bec_device_server.sim devices; stock: ophyd_devices sims)",
                ["device set", "N", "bec-core", "stock BEC 4.3", "stock min-max", "bec-core vs stock"],
                rows,
                notes=[
                    "Stock BEC: the request is the call `bec.scans.line_scan(dev.samx, -5, 5, steps=N, exp_time=0, "
                    "relative=False)` of stock bec_lib's BECClient (it builds and sends the ScanQueueMessage), the "
                    "end is the arrival of the last point's scan segment at a callback on the same client's "
                    "connector. bec-core: the ScanQueueMessage sent by a bec_core connector, same end point.",
                    "The interval histogram below shows how the segments arrive: stock BEC's scan bundler "
                    "delivers them in bursts (most intervals near 0, a few near 100 ms), bec-core one per point.",
                ],
                key="stock_scans",
            )
        )
    where = _find(tables, "where")
    if where and driver.get("where"):
        rows = []
        for monitors, w in driver["where"].items():
            ours = where.data.get(monitors, {})
            cpu = w.get("cpu_ms_per_point", {})
            rows.append(
                [
                    f"{monitors} monitors",
                    ours.get("cmds", float("nan")),
                    w.get("cmds_per_point", float("nan")),
                    ours.get("scan server", float("nan")),
                    cpu.get("scan server", float("nan")),
                    ours.get("device server", float("nan")),
                    cpu.get("device server", float("nan")),
                    cpu.get("scan bundler", float("nan")),
                    cpu.get("file writer", float("nan")),
                    ours.get("redis", float("nan")),
                    cpu.get("redis", float("nan")),
                ]
            )
        mixes = "; ".join(
            f"{m} monitors: " + ", ".join(f"{k} {v:.1f}" for k, v in w.get("mix", []))
            for m, w in driver["where"].items()
        )
        out.append(
            Table(
                "Where the time goes, side by side (per point, largest N): Redis commands and CPU ms per process",
                [
                    "device set",
                    "cmds/pt bec-core",
                    "cmds/pt stock",
                    "scan server CPU bec-core",
                    "scan server CPU stock",
                    "device server CPU bec-core",
                    "device server CPU stock",
                    "scan bundler CPU stock",
                    "file writer CPU stock",
                    "redis CPU bec-core",
                    "redis CPU stock",
                ],
                rows,
                notes=[f"Stock BEC Redis commands per point by kind: {mixes}."],
                key="stock_where",
            )
        )
    return out


def headline(tables: list[Table], stock: dict[str, Any] | None) -> Table:
    """The handful of figures people ask for, each beside its references."""
    driver = (stock or {}).get("driver", {})
    rows: list[list[object]] = []
    lat = _find(tables, "latency")
    if lat:
        by = {r[0]: r for r in lat.rows}
        raw = next((r for k, r in by.items() if k.startswith("raw")), None)
        ours = next((r for k, r in by.items() if k.startswith("bec_core")), None)
        theirs = next((r for k, r in by.items() if k.startswith("stock")), None)
        if raw and ours:
            t = theirs[1] if theirs and isinstance(theirs[1], float) else float("nan")
            rows.append(
                [
                    "set_and_publish → callback p50 (µs)",
                    ours[1],
                    f"{raw[1]:.0f} (raw redis-py)",
                    t,
                    _ratio(ours[1], t),
                ]
            )
    codec = _find(tables, "codec")
    if codec:
        for r in codec.rows:
            rows.append(
                [f"codec round trips/s, {r[0]}", r[1], f"{fmt(r[5])} (plain msgpack)", r[3], r[7] + " more"]
            )
    scans = _find(tables, "scans")
    if scans:
        c = scans.data["curve"]
        for i, m in enumerate(c["monitors"]):
            f = stock_fit(driver, str(m))
            rows.append(
                [
                    f"step scan ms/point, {m} monitors",
                    c["ms_per_point"][i],
                    "",
                    f[0] if f else float("nan"),
                    _ratio(c["ms_per_point"][i], f[0] if f else None),
                ]
            )
            rows.append(
                [
                    f"step scan fixed ms/scan, {m} monitors (fit intercept; noisy)",
                    _intercept(c["fixed_ms"][i]),
                    "",
                    _intercept(f[1]) if f else float("nan"),
                    _ratio(c["fixed_ms"][i], f[1] if f else None),
                ]
            )
    reads = _find(tables, "device_read")
    if reads:
        for n, ds, raw in zip(reads.data["n"], reads.data["ds_ms"], reads.data["raw_ms"], strict=False):
            if n in (1, 200):
                rows.append(
                    [
                        f"device server read+publish {n} devices (ms)",
                        ds,
                        f"{raw:.2f} (N raw SET+PUBLISH)",
                        "",
                        "",
                    ]
                )
    umv = _find(tables, "umv")
    if umv and umv.data.get("umv_s"):
        o = Stats(umv.data["umv_s"]).median * 1e3
        t = Stats(driver["umv_s"]).median * 1e3 if driver.get("umv_s") else float("nan")
        rows.append(["umv round trip, request → req_status (ms)", o, "", t, _ratio(o, t)])
    client = _find(tables, "client")
    if client:
        o = client.data["start_s"] * 1e3
        t = (
            Stats((stock or {}).get("client_start_s", [])).median * 1e3
            if (stock or {}).get("client_start_s")
            else float("nan")
        )
        rows.append(["client process start → ready (ms)", o, "", t, _ratio(o, t)])
    stack = _find(tables, "stack")
    if stack:
        o = stack.data["start_s"]
        t = Stats(stock["start_s"]).median if stock and stock.get("start_s") else float("nan")
        rows.append(["stack start → all services RUNNING (s)", o, "", t, _ratio(o, t)])
        o = stack.data["rss_total_mib"]
        t = sum(stock["rss_mib"][-1].values()) if stock and stock.get("rss_mib") else float("nan")
        rows.append(["idle RSS, all processes (MiB)", o, "", t, _ratio(o, t, "less", "more")])
    long = _find(tables, "long")
    if long:
        r = long.data["result"]
        rows.append(
            [
                f"long scan {r.get('expected', 0):,} points: segments lost",
                str(r.get("missing")),
                "0 (must)",
                "not run",
                "",
            ]
        )
    fan = _find(tables, "fanout")
    if fan:
        rows.append(
            ["fan-out, 10 subscribers: all complete", str(fan.data["all_ok"]), "True (must)", "not run", ""]
        )
    return Table(
        "Headline: bec-core beside the physical limit and stock BEC 4.3.2 (same machine, same run)",
        ["measure", "bec-core", "physical limit / reference", "stock BEC 4.3", "bec-core vs stock"],
        rows,
        key="headline",
    )


# --------------------------------------------------------------------------- the report
SECTIONS = [
    ("Messaging: codec and latency", ["codec", "latency"]),
    ("Device server", ["device_read", "device_point"]),
    ("Step scans", ["scans", "stock_scans"]),
    ("Where the time goes", ["where", "stock_where"]),
    ("Round trips and start-up", ["umv", "client", "stack", "stock_stack"]),
    ("Real device classes: start-up and per point with ophyd_devices", ["startup", "opd_points"]),
    ("Long scan: memory and lost segments", ["long"]),
    ("Fan-out", ["fanout"]),
    ("File writer", ["file_writer_alone", "file_writer_stack"]),
]


def stock_stack_table(stock: dict[str, Any]) -> Table | None:
    if not stock.get("rss_mib") and not stock.get("start_s"):
        return None
    rows: list[list[object]] = []
    if stock.get("start_s"):
        st = Stats(stock["start_s"])
        rows.append(["6 services spawned → all RUNNING (s)", st.median, st.spread()])
    if stock.get("client_start_s"):
        st = Stats(stock["client_start_s"]).scaled(1e3)
        rows.append(["stock client process start → ready (ms)", st.median, st.spread(0)])
    if stock.get("rss_mib"):
        last = stock["rss_mib"][-1]
        for name, value in last.items():
            rows.append([f"idle RSS {name} (MiB)", value, ""])
        rows.append(["idle RSS total (MiB)", sum(last.values()), ""])
    if stock.get("driver", {}).get("umv_s"):
        st = Stats(stock["driver"]["umv_s"]).scaled(1e3)
        rows.append(["umv round trip, request → req_status (ms)", st.median, st.spread(1)])
    return Table(
        "Stock BEC 4.3: start-up, idle memory, umv (same run)",
        ["measure", "median", "spread"],
        rows,
        notes=[
            "Services started from their entry points with `--bec-server 127.0.0.1:PORT` against a private "
            "redis-server (no tmux); ready = every heartbeat (`user/services/status/*`) RUNNING; devices are "
            "loaded afterwards by the client with `config.update_session_with_file`. The stock client start "
            "is `BECClient(ServiceConfig(...)).start()` in a fresh process, imports included.",
        ],
        key="stock_stack",
    )


def write_report(
    path: Path,
    tables: list[Table],
    machine: list[tuple[str, str]],
    stock: dict[str, Any] | None,
    command: str,
    seconds: float,
    skipped: list[str],
) -> None:
    """Write the Markdown report and its plots (in ``<report stem>/`` next to it)."""
    path = Path(path)
    plot_dir = path.parent / path.stem
    all_tables = list(tables)
    if stock:
        all_tables += stock_tables(tables, stock)
        extra = stock_stack_table(stock)
        if extra:
            all_tables.append(extra)
    plots = make_plots(tables, stock, plot_dir)
    lines = [
        "# bec-core benchmarks",
        "",
        f"Generated by `{command}` in {seconds / 60:.1f} min. Every figure is a median over repeated runs "
        "(p99 and spread beside it), and every reference (raw redis-py, plain msgpack, stock BEC 4.3) was "
        "measured in the same invocation on the same machine. Regenerate with the same command; the plots "
        f"are written to `{plot_dir.name}/`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine],
    ]
    if stock is not None:
        lines.append(f"| stock BEC (separate venv) | {stock.get('versions') or 'not available'} |")
    lines += ["", "## Headline", "", headline(tables, stock).to_markdown()]
    lines += ["## Stock BEC", ""]
    if stock is None:
        lines.append("Not measured in this run (`--with-bec` not given).")
    else:
        for entry in stock.get("log", []):
            lines.append(f"- {entry}")
        if stock.get("seconds"):
            lines.append(f"- the stock BEC part took {stock['seconds']:.0f} s of this run")
        if stock.get("errors"):
            lines.append("- **what failed:**")
            lines += [f"  - {e}" for e in stock["errors"]]
        else:
            lines.append("- every stock BEC probe ran")
    lines.append("")
    by_key = {t.key: t for t in all_tables}
    for title, keys in SECTIONS:
        present = [by_key[k] for k in keys if k in by_key]
        if not present:
            continue
        lines += [f"## {title}", ""]
        for table in present:
            lines += [table.to_markdown(), ""]
        if title == "Device server" and "cost" in plots:
            lines += [f"![cost versus devices]({plot_dir.name}/{plots['cost']})", ""]
        if title == "Step scans" and "hist" in plots:
            lines += [f"![per-point intervals]({plot_dir.name}/{plots['hist']})", ""]
        if title.startswith("Long scan") and "rss" in plots:
            lines += [f"![RSS during the long scan]({plot_dir.name}/{plots['rss']})", ""]
    lines += ["## Not measured", ""]
    lines += [f"- {s}" for s in skipped] or ["- nothing skipped"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n")
