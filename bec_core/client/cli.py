"""The ``bec`` command: the IPython shell (no subcommand) and the subcommands.

::

    bec                                   # shell (= bec shell)
    bec --redis HOST:PORT                 # shell against another Redis
    bec scan line_scan samx -5 5 --steps 21 --exp-time 0.01 [--relative] [--plot] [--save-plot out.png]
    bec status | bec monitor ENDPOINT_OR_PATTERN | bec get KEY | bec queue pause|resume|abort|clear
    bec demo                              # start the stack (embedded Redis) and run a demo scan

Exit codes: 0 success; 1 an error from the stack (one line, ``error: ...``);
2 a usage error (unknown option or scan, a wrong argument; nothing was sent);
130 Ctrl-C (a scan is aborted on the server first, or the user chose at the question).
``bec monitor`` ends on Ctrl-C with 0: that is how it is stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

DEFAULT_REDIS = "localhost:6379"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="bec", description="bec-core client: shell, scans and tools")
    parser.add_argument(
        "--redis",
        metavar="HOST:PORT",
        default=os.environ.get("BEC_REDIS_URL") or DEFAULT_REDIS,
        help=f"Redis of the stack: host:port or a redis:// URL (env BEC_REDIS_URL; default {DEFAULT_REDIS})",
    )
    parser.add_argument(
        "--username", default=os.environ.get("BEC_REDIS_USERNAME") or None, help="Redis ACL user"
    )
    parser.add_argument(
        "--password", default=os.environ.get("BEC_REDIS_PASSWORD") or None, help="Redis password"
    )
    parser.add_argument(
        "--server-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="how long to wait for the scan and device servers at start (default 5)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("shell", help="the IPython shell (the default)")
    from bec_core.client.demo import add_arguments as demo_arguments

    demo_arguments(sub.add_parser("demo", help="start the stack (embedded Redis) and run a demo scan"))
    scan = sub.add_parser(
        "scan",
        help="run a scan: bec scan line_scan samx -5 5 --steps 21 --exp-time 0.01",
        add_help=False,
        prefix_chars="\0",  # everything after the scan name belongs to the scan's own parser
    )
    scan.add_argument("scan_name", metavar="SCAN", nargs="?", help="scan name, e.g. line_scan")
    scan.add_argument(
        "scan_args", nargs=argparse.REMAINDER, help="the scan's arguments (bec scan SCAN --help)"
    )
    sub.add_parser("status", help="services, queue and current scan")
    monitor = sub.add_parser("monitor", help="print the messages on an endpoint or pattern until Ctrl-C")
    monitor.add_argument(
        "endpoint",
        metavar="ENDPOINT_OR_PATTERN",
        help="e.g. info/scans/scan_status or info/devices/readback/*",
    )
    monitor.add_argument("--count", type=int, default=0, help="stop after this many messages")
    monitor.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    get = sub.add_parser("get", help="print the decoded value of a key")
    get.add_argument("key", help="e.g. user/scan_number")
    get.add_argument("--count", type=int, default=5, help="entries to show of a list or stream")
    queue = sub.add_parser("queue", help="show or control the scan queue")
    queue.add_argument(
        "action",
        nargs="?",
        choices=["show", "pause", "resume", "abort", "clear", "history"],
        help="default: show",
    )
    queue.add_argument("--count", type=int, default=5, help="entries of the history")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from bec_core.client.errors import ScanArgumentError
    from bec_core.errors import BECError

    try:
        return _dispatch(parser, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ScanArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BECError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    command = args.command or "shell"
    if command == "shell":
        from bec_core.client.shell import run_shell

        return run_shell(args)
    if command == "demo":
        from bec_core.client.demo import run_demo

        return run_demo(args)
    from bec_core.client import commands

    if command == "scan":
        if not args.scan_name or args.scan_name in ("-h", "--help"):
            return _scan_help(args)
        return commands.cmd_scan(args)
    handler = {
        "status": commands.cmd_status,
        "monitor": commands.cmd_monitor,
        "get": commands.cmd_get,
        "queue": commands.cmd_queue,
    }[command]
    return handler(args)


def _scan_help(args: argparse.Namespace) -> int:
    from bec_core.client import commands
    from bec_core.client.display import stdout_console

    connector = commands.connect(args)
    try:
        from bec_core.endpoints import MessageEndpoints

        msg = connector.get(MessageEndpoints.available_scans())
    finally:
        connector.shutdown()
    names = sorted(n for n, i in (msg.resource if msg else {}).items() if not i.get("is_internal"))
    stdout_console().print("usage: bec scan SCAN ARGS... (bec scan SCAN --help for its arguments)")
    stdout_console().print("available scans: " + (", ".join(names) or "none (is the scan server running?)"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
