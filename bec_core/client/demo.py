"""``bec demo``: start the whole stack (embedded Redis included) and run a real scan.

The stack is started with ``bec-server start`` unless its heartbeats already
answer at ``--redis``; then a ``line_scan`` of the demo motor runs with its live
table, and the user is told how to open the shell and how to stop the stack.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``bec demo``."""
    parser.add_argument("--state-dir", metavar="DIR", help="where bec-server keeps logs, PIDs and Redis data")
    parser.add_argument(
        "--config", metavar="DEVICES.yaml", help="device config (default config/devices/demo.yaml)"
    )
    parser.add_argument("--steps", type=int, default=21, help="points of the demo line scan (21)")


def _tool(name: str) -> str:
    """The path of one of our console scripts beside the running interpreter (as the user types it)."""
    path = Path(sys.executable).parent / name
    try:
        return str(path.relative_to(Path.cwd())) if path.exists() else name
    except ValueError:
        return str(path)


def run_demo(args: argparse.Namespace) -> int:
    """Start the stack if needed, run the demo scan, print the next steps; return the exit code."""
    from bec_core.client.cli import main as bec_main
    from bec_core.launcher.cli import main as server_main

    common = ["--redis", args.redis]
    if args.state_dir:
        common += ["--state-dir", args.state_dir]
    if server_main(["check", "--redis", args.redis]) == 0:
        print(f"bec-core stack already running at {args.redis}")
    else:
        start = ["start", *common] + (["--config", args.config] if args.config else [])
        print(f"starting the stack: {_tool('bec-server')} {shlex.join(start)}", flush=True)
        code = server_main(start)
        if code != 0:
            return code
    scan = [
        "scan",
        "line_scan",
        "samx",
        "-5",
        "5",
        "--steps",
        str(args.steps),
        "--exp-time",
        "0.01",
        "--no-relative",
        "--show",
        "bpm4i,diode,bpm4a,bpm3i",
    ]
    print(f"\nrunning a demo scan: {_tool('bec')} {shlex.join(scan)}", flush=True)
    code = bec_main(["--redis", args.redis, *scan])
    redis_flag = "" if args.redis in ("localhost:6379", "127.0.0.1:6379") else f" --redis {args.redis}"
    state_flag = f" --state-dir {args.state_dir}" if args.state_dir else ""
    print(
        "\nThe stack keeps running.\n"
        f"  open the shell:   {_tool('bec')}{redis_flag}\n"
        f"  run a scan:       {_tool('bec')}{redis_flag} scan line_scan samx -1 1 --steps 11 --no-relative\n"
        f"  see its state:    {_tool('bec-server')} status{state_flag}\n"
        f"  stop it:          {_tool('bec-server')} stop{state_flag}",
        flush=True,
    )
    return code
