"""``bec-server``: start, stop, restart, status and check the bec-core services.

Usage::

    bec-server start [--config DEVICES.yaml] [--service-config services.yaml]
                     [--redis HOST:PORT] [--state-dir DIR] [--foreground] [--timeout S]
    bec-server stop | restart | status [--state-dir DIR]
    bec-server check [--service NAME] [--redis HOST:PORT]    # health probe, exit 0 if RUNNING

Exit status: 0 success; 1 failure (the reason is printed); 2 bad usage or
configuration; ``status`` exits 3 when a service is not RUNNING.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bec_core.config import add_common_arguments, settings_from_args
from bec_core.errors import ConfigError
from bec_core.launcher.launcher import LaunchError, LaunchOptions
from bec_core.launcher.specs import find_spec
from bec_core.launcher.state import StateDir

__all__ = ["build_parser", "main"]


def _err(text: str) -> None:
    print(f"bec-server: {text}", file=sys.stderr, flush=True)


def _say(text: str) -> None:
    print(text, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The ``bec-server`` argument parser (one sub-command per verb)."""
    parser = argparse.ArgumentParser(
        prog="bec-server", description="Start, stop and inspect the bec-core services."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, text in (
        ("start", "start Redis (if none answers) and the services; return once all run"),
        ("restart", "stop, then start"),
    ):
        sub = add_common_arguments(verbs.add_parser(verb, help=text, description=text))
        sub.add_argument("--config", type=Path, metavar="DEVICES.yaml", help="device configuration")
        sub.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for RUNNING (30)")
        sub.add_argument(
            "--foreground",
            action="store_true",
            help="stay attached, prefix the services' output, Ctrl-C stops",
        )
        if verb == "start":
            sub.add_argument("--check", action="store_true", help="only probe, like 'bec-server check'")
            sub.add_argument("--service", action="append", metavar="NAME", help=argparse.SUPPRESS)
    for verb, text in (
        ("stop", "stop the services and the Redis bec-server started"),
        ("status", "show every service's PID, state and uptime from the heartbeats"),
    ):
        add_common_arguments(verbs.add_parser(verb, help=text, description=text))
    check = add_common_arguments(
        verbs.add_parser("check", help="health probe: exit 0 if the heartbeats say RUNNING")
    )
    check.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="DeviceServer, ScanServer, ScanBundler (or device-server, ...); repeatable; default all",
    )
    return parser


def _options(args: argparse.Namespace) -> LaunchOptions:
    env = dict(os.environ)
    if (
        args.verb != "start"
        and args.redis is None
        and not env.get("BEC_REDIS_URL")
        and not args.service_config
    ):
        # stop/status/restart/check talk to the Redis the running stack was started with
        recorded = StateDir(settings_from_args(args, env).state_dir).recorded_url()
        if recorded:
            args.redis = recorded
    settings = settings_from_args(args, env)
    return LaunchOptions(
        settings=settings,
        state=StateDir(settings.state_dir),
        device_config=getattr(args, "config", None),
        service_config=args.service_config,
        log_level=args.log_level,
        timeout=getattr(args, "timeout", 30.0),
    )


def _status(opts: LaunchOptions) -> int:
    from rich.console import Console
    from rich.table import Table

    from bec_core.launcher.health import status

    rows, redis_line = status(opts)
    table = Table(title=f"bec-core services ({opts.state.root})", title_justify="left")
    for column in ("service", "heartbeat", "pid", "state", "uptime", "host", "log"):
        table.add_column(column)
    for row in rows:
        colour = "green" if row.running else "red"
        table.add_row(
            row.key,
            row.heartbeat,
            str(row.pid) if row.pid else "-",
            f"[{colour}]{row.state}[/{colour}]",
            _duration(row.uptime),
            row.host or "-",
            row.log or "-",
        )
    console = Console(width=max(Console().width, 160) if not sys.stdout.isatty() else None)
    console.print(redis_line, highlight=False)
    console.print(table)
    return 0 if all(row.running for row in rows) else 3


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _check(opts: LaunchOptions, names: list[str] | None) -> int:
    from bec_core.launcher.health import check

    try:
        wanted = None if not names else [n for name in names for n in _heartbeat_names(name)]
    except ConfigError as exc:
        _err(str(exc))
        return 2
    ok, text = check(opts.settings.redis, names=wanted)
    (_say if ok else _err)(text)
    return 0 if ok else 1


def _heartbeat_names(name: str) -> list[str]:
    spec = find_spec(name)
    return [hb for hb in spec.heartbeats if hb.lower() == name.lower()] or list(spec.heartbeats)


def _start(opts: LaunchOptions, foreground: bool) -> int:
    from bec_core.launcher.launcher import start

    if foreground:
        from bec_core.launcher.foreground import run_foreground

        return run_foreground(opts, say=_say)
    start(opts, say=_say)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec-server``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        opts = _options(args)
        if args.verb == "check" or (args.verb == "start" and args.check):
            return _check(opts, args.service)
        if args.verb == "status":
            return _status(opts)
        if args.verb in ("stop", "restart"):
            from bec_core.launcher.launcher import stop

            stop(opts, say=_say)
            if args.verb == "stop":
                return 0
        return _start(opts, args.foreground)
    except ConfigError as exc:
        _err(str(exc))
        return 2
    except LaunchError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
