"""The file writer in the real stacks: bec-core's and stock BEC 4.3's on the same scans, in one run.

Starts stock's services (device server, scan server, scan bundler, file writer, SciHub, DAP:
``bench_bec.StockStack``, entry points of the stock virtual environment, ``--bec-server`` on a
private redis-server), loads the same device YAML as bec-core's run with a config ``set``
request (what stock bec_lib's ``config.update_session_with_file`` sends), then runs the same
line scans with the same requests and timing as bec-core's (``bench_file_writer.timed_scans``):
both speak the same wire protocol, so one driver serves both. The stock environment is
``$BEC_STOCK_VENV`` (default ``/work/stockvenv``), else the one ``bench_bec`` installs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import yaml

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceConfigMessage
from bec_core.redis_connector import AsyncRedisConnector
from bench import bench_bec
from bench.common import Table

STOCK_VENV = Path(os.environ.get("BEC_STOCK_VENV", "/work/stockvenv"))
POLL_S = 0.05
#: a short scan first: stock's services import and cache on their first scan
WARM_UP_POINTS = 5


def stock_python(log: list[str]) -> Path:
    """The stock environment's python (RuntimeError when there is none)."""
    python = STOCK_VENV / "bin" / "python"
    if python.exists():
        probe = subprocess.run([str(python), "-c", "import bec_server"], capture_output=True, timeout=120)
        if probe.returncode == 0:
            log.append(f"stock BEC from {STOCK_VENV}")
            return python
    return bench_bec.ensure_venv(bench_bec.DEFAULT_VENV, log)


async def load_config(conn: AsyncRedisConnector, text: str, timeout: float = 300.0) -> None:
    """Replace stock's device configuration with the YAML ``text`` and wait for its answer."""
    rid = str(uuid.uuid4())
    msg = DeviceConfigMessage(action="set", config=yaml.safe_load(text), metadata={"RID": rid})
    await conn.send(MessageEndpoints.device_config_request(), msg)
    deadline = time.monotonic() + timeout
    while (reply := await conn.get(MessageEndpoints.device_config_request_response(rid))) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"stock device server did not answer the config request within {timeout} s")
        await asyncio.sleep(POLL_S)
    if not getattr(reply, "accepted", False):
        raise RuntimeError(f"stock device server refused the config: {getattr(reply, 'message', reply)}")


async def stock_stack(
    monitors: int, points: int, repeats: int, tmp: Path, python: Path
) -> dict[str, list[float]]:
    """Stock's services, ``monitors`` SimMonitors and samx, ``repeats`` timed line scans."""
    from bench.bench_file_writer import devices_yaml, timed_scans

    stack = bench_bec.StockStack(python, tmp)
    await asyncio.to_thread(stack.start)
    conn = await AsyncRedisConnector(stack.redis.url).connect()
    try:
        await load_config(conn, devices_yaml(monitors))
        tail = lambda: stack.log_tail("bec-file-writer", 20)  # noqa: E731
        await timed_scans(conn, WARM_UP_POINTS, 1, tail)
        return await timed_scans(conn, points, repeats, tail)
    finally:
        await conn.close()
        await asyncio.to_thread(stack.stop)


async def side_by_side(
    monitors_list: list[int], points: int, repeats: int, tmp: Path, with_stock: bool
) -> Table:
    """Part 2 for bec-core's stack and (``with_stock``) stock's, the same scans on both."""
    table = Table(
        f"File writer in the real stack: line_scan of {points:,} points, exp_time 0, bec-core and "
        f"stock BEC 4.3 (median of {repeats})",
        [
            "monitors",
            "stack",
            "scan (s)",
            "scan open → file at its path (ms)",
            "scan end → FileMessage done (ms)",
            "min-max (ms)",
        ],
        key="file_writer_stack",
    )
    from bench.bench_file_writer import real_stack

    python: Path | None = None
    if with_stock:
        try:
            python = stock_python([])
        except Exception as exc:
            table.notes.append(f"stock BEC not measured: {exc}")
    for monitors in monitors_list:
        sub = tmp / f"stack-{monitors}"
        sub.mkdir()
        sides = [("bec-core", real_stack(monitors, points, repeats, sub))]
        if python is not None:
            stock_dir = tmp / f"stock-{monitors}"
            stock_dir.mkdir()
            sides.append(("stock", stock_stack(monitors, points, repeats, stock_dir, python)))
        for name, run in sides:
            try:
                res = await run
            except Exception as exc:
                table.notes.append(f"{name}, {monitors} monitors: failed: {type(exc).__name__}: {exc}")
                continue
            end = res["end_to_file_ms"]
            table.rows.append(
                [
                    monitors,
                    name,
                    round(statistics.median(res["scan_s"]), 3),
                    round(statistics.median(res["open_to_file_ms"]), 1),
                    round(statistics.median(end), 1),
                    f"{min(end):.1f}-{max(end):.1f}",
                ]
            )
    table.notes += [
        "scan open / end: the 'open' / 'closed' status received by the benchmark; file at its path: the "
        "master file (the path of its first FileMessage) exists, polled every 10 ms: bec-core creates it "
        "at the scan's opening and flushes rows into it while the scan runs (the lag behind the scan), "
        "stock writes a temporary file and renames it at the end; FileMessage done: done=True received",
        "both stacks get the same requests from one driver (bec-core's connector: the same wire protocol) "
        "and the same ophyd_devices classes; stock runs all six of its services (bench_bec.StockStack)",
    ]
    return table
