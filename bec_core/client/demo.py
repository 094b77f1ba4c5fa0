"""``bec demo``: start the whole stack (embedded Redis included) and run a real scan.

The stack is started with ``bec-server start`` unless its heartbeats already
answer at ``--redis``; then a ``line_scan`` of the demo motor runs with its live
table, and the user is told how to open the shell and how to stop the stack.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
from pathlib import Path

#: the devices the demo scan and the printed next steps use
DEMO_DEVICES = ("samx", "bpm4i")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``bec demo`` (``--redis`` here as well as before ``demo``)."""
    parser.add_argument(
        "--redis", metavar="HOST:PORT", default=argparse.SUPPRESS, help="Redis of the stack (as bec --redis)"
    )
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


def _stack_state(args: argparse.Namespace) -> str:
    """``no-redis``, ``redis-only`` (no scan or device server) or ``running``."""
    from bec_core.client.client import REQUIRED_SERVICES, open_connector
    from bec_core.endpoints import MessageEndpoints
    from bec_core.errors import BECError

    try:
        connector = open_connector(args.redis, args.username, args.password)
    except BECError:
        return "no-redis"
    try:
        beats = connector.mget([MessageEndpoints.service_status(s) for s in REQUIRED_SERVICES])
    finally:
        connector.shutdown()
    return "running" if all(b is not None for b in beats) else "redis-only"


def _missing_demo_devices(args: argparse.Namespace) -> list[str]:
    """The demo's devices that the running stack's device config lacks."""
    from bec_core.client.client import open_connector
    from bec_core.endpoints import MessageEndpoints

    connector = open_connector(args.redis, args.username, args.password)
    try:
        config = connector.get(MessageEndpoints.device_config())
    finally:
        connector.shutdown()
    names = {d.get("name") for d in (config.resource if config is not None else []) if isinstance(d, dict)}
    return [d for d in DEMO_DEVICES if d not in names]


def run_demo(args: argparse.Namespace) -> int:
    """Start the stack if needed, run the demo scan, print the next steps; return the exit code."""
    from bec_core.client.cli import main as bec_main
    from bec_core.launcher.cli import main as server_main

    common = ["--redis", args.redis]
    if args.state_dir:
        common += ["--state-dir", args.state_dir]
    state = _stack_state(args)
    if state == "running":
        missing = _missing_demo_devices(args)
        if missing:
            print(
                f"a bec-core stack runs at {args.redis} with another device config (no "
                f"{', '.join(missing)}): the demo needs config/devices/demo.yaml.\n"
                f"  run the demo beside it:  {_tool('bec')} demo --redis 127.0.0.1:PORT (a free port)\n"
                f"  or restart that stack:   {_tool('bec-server')} restart --config config/devices/demo.yaml",
                flush=True,
            )
            return 1
        print(f"bec-core stack already running at {args.redis}")
    else:
        if state == "no-redis":
            print(f"no Redis at {args.redis}: starting the embedded one", flush=True)
        from bec_core.launcher.specs import default_device_config

        # the demo's devices, also when Redis still holds another stored config (kept in its history)
        config = args.config or default_device_config()
        start = ["start", *common] + (["--config", str(config)] if config else [])
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
    ]
    print(f"\nrunning a demo scan: {_tool('bec')} {shlex.join(scan)}", flush=True)
    code = bec_main(["--redis", args.redis, *scan])
    redis_flag = "" if args.redis in ("localhost:6379", "127.0.0.1:6379") else f" --redis {args.redis}"
    state_flag = f" --state-dir {args.state_dir}" if args.state_dir else ""
    plot_flag = " --plot" if importlib.util.find_spec("plotext") is not None else ""
    print(
        "\nThe stack keeps running.\n"
        f"  open the shell:   {_tool('bec')}{redis_flag}\n"
        f"  run a scan:       {_tool('bec')}{redis_flag} scan line_scan samx -1 1 --steps 11 --no-relative"
        f"{plot_flag}\n"
        f"  see its state:    {_tool('bec-server')} status{state_flag}\n"
        f"  stop it:          {_tool('bec-server')} stop{state_flag}",
        flush=True,
    )
    return code
