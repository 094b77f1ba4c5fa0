"""The CLI's subcommands: ``scan``, ``status``, ``monitor``, ``get``, ``queue``.

Each takes the parsed arguments and returns an exit code; errors derived
from :class:`~bec_core.errors.BECError` are printed by :mod:`.cli` as one line.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from bec_core.client.display import queue_table, stdout_console
from bec_core.client.errors import START_HINT, ScanArgumentError
from bec_core.endpoints import MessageEndpoints


def connect(args: argparse.Namespace) -> Any:
    """A bare RedisConnector (for commands that need no servers); clear error if Redis is down."""
    from bec_core.client.client import open_connector

    return open_connector(args.redis, args.username, args.password)


def client_for(args: argparse.Namespace) -> Any:
    """A started BECClient (waits briefly for the servers)."""
    from bec_core.client.client import BECClient

    return BECClient(args.redis, args.username, args.password, server_timeout=args.server_timeout).start()


# --------------------------------------------------------------------------- scan
def cmd_scan(args: argparse.Namespace) -> int:
    """Run one scan, show its points live; exit 0 if it closed.

    Every argument, option and optional package is checked before the request is sent:
    an error means nothing was sent (no scan number taken, no motor moved).
    """
    from bec_core.client.scan_args import build_parser, parse_scan_args
    from bec_core.client.scans import unknown_scan_text

    client = client_for(args)
    try:
        info = client.scans.info.get(args.scan_name)
        if info is None or args.scan_name not in client.scans:
            raise ScanArgumentError(unknown_scan_text(args.scan_name, client.scans.names()))
        parser = build_parser(args.scan_name, info)
        parser.add_argument("--plot", action="store_true", help="live terminal plot (plotext)")
        parser.add_argument("--save-plot", metavar="PNG", help="save a matplotlib figure at the end")
        parser.add_argument("--csv", metavar="PATH", help="write the points as CSV at the end")
        parser.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
        parser.add_argument(
            "--show", metavar="DEV,...", help="detectors (or DEV.SIGNAL) to show and plot, in this order"
        )
        scan_args, scan_kwargs, ns = parse_scan_args(args.scan_name, info, args.scan_args, parser)
        show = _precheck(client, ns)
        report = client.scans[args.scan_name](*scan_args, **scan_kwargs)
        if args.scan_name in ("mv", "umv"):
            return _move(client, report)
        return _watch_scan(client, report, ns, show)
    finally:
        client.shutdown()


def _precheck(client: Any, ns: argparse.Namespace) -> list[str] | None:
    """Check the CLI's own options before anything is sent; returns the ``--show`` choice."""
    from pathlib import Path

    from bec_core.client.plot import require_matplotlib, require_plotext
    from bec_core.client.signals import parse_choice

    show = [d.strip() for d in ns.show.split(",") if d.strip()] if ns.show else None
    if show:
        parse_choice(client, show)
    if ns.plot:
        require_plotext()
    if ns.save_plot:
        require_matplotlib()
    for option, value in (("--save-plot", ns.save_plot), ("--csv", ns.csv)):
        if value and not Path(value).resolve().parent.is_dir():
            folder = Path(value).resolve().parent
            raise ScanArgumentError(f"{option} {value}: directory {folder} does not exist")
    return show


def _move(client: Any, status: Any) -> int:
    from bec_core.client.display import live_move

    client.wait_response(status.rid)  # a refused move shows no move line
    try:
        live_move(client, status)
    except KeyboardInterrupt:
        for name in status.targets:
            client.dev[name].stop()
        stdout_console().print(f"interrupted: stopped {', '.join(status.targets)}")
        return 130
    return 0


def _watch_scan(client: Any, report: Any, ns: argparse.Namespace, show: list[str] | None) -> int:
    """The live table (and plot) until the scan ends; Ctrl-C asks, or aborts without a terminal."""
    from bec_core.client.display import LiveScan
    from bec_core.client.errors import ScanAbortedError
    from bec_core.client.interrupt import abort, ask_after_interrupt

    console = stdout_console()
    live = LiveScan(client, report, console, devices=show)
    plot = None
    if ns.plot:
        from bec_core.client.plot import LiveTerminalPlot

        plot = LiveTerminalPlot(report.scan, show)
        live.on_point.append(plot.on_point)
    aborted_by_user = False
    interrupted = False
    while True:
        try:
            # a Ctrl-C at any moment (also while the last one is handled) comes back here
            if interrupted:
                interrupted = False
                if sys.stdin.isatty():
                    aborted_by_user |= ask_after_interrupt(client, report, console, input) == "abort"
                else:
                    console.print("interrupted: aborting the scan on the server")
                    abort(client, report, console)
                    aborted_by_user = True
            live.run(timeout=ns.timeout)
            break
        except KeyboardInterrupt:
            interrupted = True
        except ScanAbortedError as exc:
            if aborted_by_user:
                console.print(f"[red]scan {report.scan.scan_number} aborted[/] ({exc.status})")
                return 130
            raise
    if plot is not None:
        plot.draw()
    if ns.csv:
        console.print(f"points written to {report.scan.to_csv(ns.csv)}")
    if ns.save_plot:
        console.print(f"plot saved to {report.scan.plot(ns.save_plot, y=show)}")
    return 0


# --------------------------------------------------------------------------- status
def cmd_status(args: argparse.Namespace) -> int:
    """Services (from their heartbeats), the queue and the current scan."""
    from rich.table import Table

    connector = connect(args)
    console = stdout_console()
    try:
        keys = connector.keys(MessageEndpoints.service_status())
        beats = [b for b in connector.mget(keys) if b is not None] if keys else []
        table = Table(title=f"services at {connector.url}", title_justify="left")
        for column in ("service", "status", "host", "pid", "uptime"):
            table.add_column(column)
        for beat in sorted(beats, key=lambda b: b.name):
            info = beat.info if isinstance(beat.info, dict) else beat.info.model_dump()
            status = getattr(beat.status, "name", str(beat.status))
            colour = {"RUNNING": "green", "BUSY": "yellow", "IDLE": "yellow"}.get(status, "red")
            table.add_row(
                beat.name,
                f"[{colour}]{status}[/]",
                str(info.get("hostname", "")),
                str(info.get("pid", "")),
                duration(info.get("uptime")),
            )
        console.print(table)
        queue, scan = connector.mget([MessageEndpoints.scan_queue_status(), MessageEndpoints.scan_status()])
        if queue is not None and "primary" in queue.queue:
            rows = [
                {
                    "scan_number": b.scan_number,
                    "scan_type": b.msg.scan_type,
                    "status": e.status,
                    "RID": b.RID,
                }
                for e in queue.queue["primary"].info
                for b in e.request_blocks
            ]
            console.print(queue_table(queue.queue["primary"].status, rows))
        if scan is not None:
            console.print(
                f"last scan: {scan.scan_number} {scan.scan_name} [bold]{scan.status}[/] "
                f"({scan.num_points} points, scan_id {scan.scan_id})"
            )
        names = {b.name.split("/")[0] for b in beats}
        missing = [s for s in ("ScanServer", "DeviceServer") if s not in names]
        if missing:
            console.print(f"[red]not running: {', '.join(missing)}[/]; {START_HINT}")
            return 1
        return 0
    finally:
        connector.shutdown()


def duration(seconds: Any) -> str:
    """``0:15``, ``12:03`` or ``1:02:03`` (as ``bec-server status`` prints uptime)."""
    if not isinstance(seconds, int | float):
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --------------------------------------------------------------------------- monitor
def cmd_monitor(args: argparse.Namespace) -> int:
    """Print every message on an endpoint or pattern until Ctrl-C (or ``--count``)."""
    connector = connect(args)
    console = stdout_console()
    done = threading.Event()
    seen = 0

    def show(msg: Any, **_: Any) -> None:
        nonlocal seen
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        for value in values:
            stamp = time.strftime("%H:%M:%S")
            console.print(f"[dim]{stamp}[/] [bold]{msg.topic}[/] {type(value).__name__}", end=" ")
            console.print(getattr(value, "content", value), getattr(value, "metadata", ""), soft_wrap=True)
        seen += 1
        if args.count and seen >= args.count:
            done.set()

    try:
        connector.register(args.endpoint, cb=show)
        console.print(f"monitoring {args.endpoint} on {connector.url} (Ctrl-C to stop)", style="dim")
        done.wait(args.timeout)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        connector.shutdown()


# --------------------------------------------------------------------------- get
def cmd_get(args: argparse.Namespace) -> int:
    """Print the decoded value of a key (a list's or stream's newest entries)."""
    from redis.exceptions import ResponseError

    connector = connect(args)
    console = stdout_console()
    try:
        try:
            value = connector.get(args.key)
        except ResponseError:  # not a string key: a list or a stream
            try:
                value = connector.lrange(args.key, 0, args.count - 1)
            except ResponseError:
                value = connector.get_last(args.key, count=args.count)
        if value is None:
            console.print(f"[red]{args.key}: no such key[/]")
            return 1
        for item in value if isinstance(value, list) else [value]:
            console.print(type(item).__name__, getattr(item, "content", item), getattr(item, "metadata", ""))
        return 0
    finally:
        connector.shutdown()


# --------------------------------------------------------------------------- queue
def cmd_queue(args: argparse.Namespace) -> int:
    """``bec queue [show|pause|resume|abort|clear|history]``."""
    from bec_core.client.queue import History

    client = client_for(args)
    console = stdout_console()
    try:
        action = args.action or "show"
        if action == "show":
            client.queue.show()
        elif action == "history":
            for entry in client.queue.history(args.count):
                console.print(History.line(entry))
        else:
            getattr(client.queue, action)()
            console.print(f"queue {action}: done (queue is now {client.queue.state})")
        return 0
    finally:
        client.shutdown()
