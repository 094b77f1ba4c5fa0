"""The CLI's subcommands: ``scan``, ``status``, ``monitor``, ``get``, ``queue``.

Each takes the parsed arguments and returns an exit code; errors derived
from :class:`~bec_core.errors.BECError` are printed by :mod:`.cli` as one line.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from bec_core.client.display import data_table, queue_table, stdout_console
from bec_core.client.errors import START_HINT
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import BECError


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
    """Run one scan, show its points live, print the table; exit 0 if it closed."""
    from bec_core.client.display import LiveScan
    from bec_core.client.scan_args import build_parser, parse_scan_args
    from bec_core.client.scans import unknown_scan_text

    client = client_for(args)
    try:
        info = client.scans.info.get(args.scan_name)
        if info is None or args.scan_name not in client.scans:
            raise BECError(unknown_scan_text(args.scan_name, client.scans.names()))
        parser = build_parser(args.scan_name, info)
        parser.add_argument("--plot", action="store_true", help="live terminal plot (plotext)")
        parser.add_argument("--save-plot", metavar="PNG", help="save a matplotlib figure at the end")
        parser.add_argument("--csv", metavar="PATH", help="write the points as CSV at the end")
        parser.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
        parser.add_argument("--show", metavar="DEV,...", help="detectors to show in the table, in this order")
        scan_args, scan_kwargs, ns = parse_scan_args(args.scan_name, info, args.scan_args, parser)
        report = client.scans[args.scan_name](*scan_args, **scan_kwargs)
        console = stdout_console()
        if args.scan_name in ("mv", "umv"):
            from bec_core.client.display import live_move

            live_move(client, report)
            return 0
        show = [d.strip() for d in ns.show.split(",") if d.strip()] if ns.show else None
        live = LiveScan(client, report, console, devices=show)
        if ns.plot:
            from bec_core.client.plot import LiveTerminalPlot

            plot = LiveTerminalPlot(report.scan)
            live.on_point.append(plot.on_point)
        live.run(timeout=ns.timeout)
        if ns.plot:
            plot.draw()
        console.print(data_table(report, devices=show))
        if ns.csv:
            console.print(f"points written to {report.scan.to_csv(ns.csv)}")
        if ns.save_plot:
            console.print(f"plot saved to {report.scan.plot(ns.save_plot)}")
        return 0
    finally:
        client.shutdown()


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
        for column in ("service", "status", "host", "pid", "uptime [s]"):
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
                str(info.get("uptime", "")),
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
    client = client_for(args)
    console = stdout_console()
    try:
        action = args.action or "show"
        if action == "show":
            client.queue.show()
        elif action == "history":
            for entry in client.queue.history(args.count):
                blocks = entry.info.request_blocks
                kinds = ", ".join(f"{b.scan_number or '-'} {b.msg.scan_type}" for b in blocks)
                console.print(f"{entry.status:<10} {kinds}  queue_id {entry.queue_id}")
        else:
            getattr(client.queue, action)()
            console.print(f"queue {action}: done (queue is now {client.queue.state})")
        return 0
    finally:
        client.shutdown()
