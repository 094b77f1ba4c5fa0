"""Small helpers shared by the benchmarks: statistics, result tables, processes, the machine."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import statistics
import subprocess
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


async def services_running(conn: Any, names: Sequence[str], timeout: float = 60.0) -> None:
    """Until each service's heartbeat (``user/services/status/<name>``) says RUNNING; ``conn`` is
    a bec_core ``AsyncRedisConnector``. ``TimeoutError`` after ``timeout`` s without an update."""
    from bec_core.endpoints import MessageEndpoints
    from bec_core.messages import BECStatus

    for name in names:
        async with conn.subscribe(MessageEndpoints.service_status(name)) as sub:
            msg = await conn.get(MessageEndpoints.service_status(name))
            while msg is None or msg.status != BECStatus.RUNNING:
                msg = (await sub.get(timeout)).value


# --------------------------------------------------------------------------- statistics
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


@dataclass
class Stats:
    """Median, p99 and spread of a sample (in whatever unit the values are)."""

    values: list[float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.values, 99)

    @property
    def min(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def max(self) -> float:
        return max(self.values) if self.values else float("nan")

    @property
    def iqr(self) -> tuple[float, float]:
        return percentile(self.values, 25), percentile(self.values, 75)

    def scaled(self, factor: float) -> Stats:
        return Stats([v * factor for v in self.values])

    def spread(self, digits: int = 2) -> str:
        """``min-max`` for a few runs, ``IQR a-b`` for a large sample."""
        if not self.values:
            return "-"
        if self.n <= 20:
            return f"{self.min:.{digits}f}-{self.max:.{digits}f}"
        lo, hi = self.iqr
        return f"IQR {lo:.{digits}f}-{hi:.{digits}f}"


def fmt(value: object, digits: int = 2) -> str:
    """A cell: floats with ``digits`` decimals (thousands separated), NaN as a dash."""
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.{digits}f}"
    if value is None:
        return "-"
    return str(value)


# --------------------------------------------------------------------------- tables
@dataclass
class Table:
    """One result table: title, column names, rows of cells, and notes printed below it."""

    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key: str = ""  # a short id for the report (e.g. "codec")
    data: dict[str, Any] = field(default_factory=dict)  # raw series for plots, not printed

    def cells(self) -> list[list[str]]:
        return [[fmt(v) for v in row] for row in self.rows]

    def to_markdown(self) -> str:
        """The table as GitHub-flavoured Markdown (title as a bold line, notes as a list)."""
        out = [f"**{self.title}**", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|")
        for row in self.cells():
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        for note in self.notes:
            out.append("")
            out.append(f"- {note}" if not note.startswith("- ") else note)
        return "\n".join(out) + "\n"


def print_table(
    table: Table | str, columns: Sequence[str] | None = None, rows: Sequence[Sequence[object]] | None = None
) -> None:
    """Print a table with rich (plain text when not on a terminal); also ``print_table(title, cols, rows)``."""
    from rich.console import Console
    from rich.table import Table as RichTable

    if not isinstance(table, Table):
        table = Table(table, list(columns or []), [list(r) for r in rows or []])
    rich = RichTable(title=table.title)
    for i, col in enumerate(table.columns):
        rich.add_column(col, justify="left" if i == 0 else "right")
    for row in table.cells():
        rich.add_row(*row)
    console = Console(width=140)
    console.print(rich)
    for note in table.notes:
        console.print(f"  {note}", highlight=False, markup=False)


def print_tables(tables: Sequence[Table]) -> None:
    for table in tables:
        print_table(table)
        print()


# --------------------------------------------------------------------------- processes
def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident set size (VmRSS) in MiB; NaN if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def spawn(args: Sequence[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a process in a session (process group) of its own, output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )


def stop_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``spawn``), SIGKILL after ``timeout``."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:  # children left in the group (or the process itself after the timeout)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when installed (as the services do)."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


# --------------------------------------------------------------------------- the machine
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(redis_version: str = "") -> list[tuple[str, str]]:
    """(label, value) pairs describing this machine and the software measured."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    packages = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "bec-core",
            "bec_lib",
            "redis",
            "hiredis",
            "msgpack",
            "ormsgpack",
            "uvloop",
            "ophyd",
            "matplotlib",
        )
    )
    return [
        ("CPU", cpu),
        ("cores (os.cpu_count)", str(os.cpu_count())),
        ("memory", mem),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Redis", redis_version or "?"),
        ("packages", packages),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]


def redis_version() -> str:
    """``redis-server --version`` of the binary RedisServer would start."""
    from bec_core.redis_server import find_redis_server

    try:
        binary = find_redis_server()
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        version = next((p.split("=", 1)[1] for p in out.split() if p.startswith("v=")), out.strip())
        return f"{version} ({binary})"
    except Exception as exc:
        return f"unknown ({exc})"
