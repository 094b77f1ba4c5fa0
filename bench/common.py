"""Small helpers shared by the benchmarks: percentiles, tables, a private redis-server."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_us(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p99/mean in microseconds."""
    us = [s * 1e6 for s in samples_s]
    return {"p50": percentile(us, 50), "p99": percentile(us, 99), "mean": statistics.fmean(us)}


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a rich table (plain text when not on a terminal)."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="right" if col != columns[0] else "left")
    for row in rows:
        table.add_row(*[f"{v:,.1f}" if isinstance(v, float) else str(v) for v in row])
    Console(width=120).print(table)
