"""``python -m bec_scihub.restart_helper --state-dir DIR``: restart what ``bec-server`` started.

Started detached by SciHub for a ``restart`` service request. Under the state
directory's lock it reads, for every service recorded in ``run/<key>.pid`` that
still runs, that process's command line; stops them all (SIGTERM, SIGKILL after
the drain deadline); starts each again with the same command line, environment
and log file; records the new pids; and waits until their heartbeats say RUNNING.
Redis is left running, so clients keep their connection. Exit status 0 when all
came back, 1 otherwise (the reason is printed to ``logs/scihub-restart.log``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bec_core.config import load_settings
from bec_core.errors import BECError
from bec_core.launcher import heartbeats
from bec_core.launcher.procs import cmdline, stop_processes
from bec_core.launcher.specs import SERVICES, ServiceSpec
from bec_core.launcher.state import StateDir


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} restart: {text}", flush=True)


def running_services(state: StateDir) -> list[tuple[ServiceSpec, int, list[str]]]:
    """The recorded services that still run: spec, pid and command line."""
    found = []
    for spec in SERVICES:
        pid = state.live_pid(spec.key, spec.markers)
        if pid is not None:
            argv = cmdline(pid)
            if argv:
                found.append((spec, pid, argv))
    return found


def relaunch(state: StateDir, spec: ServiceSpec, argv: list[str]) -> int:
    """Start ``argv`` as ``bec-server`` would (own session, output to its log); return the pid."""
    with open(state.log_file(spec.key), "ab") as log:
        log.write(f"=== restart {time.strftime('%Y-%m-%d %H:%M:%S')}: {argv[0]}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    state.write_pid(spec.key, proc.pid)
    return proc.pid


def restart(state_dir: Path, timeout: float, stop_timeout: float) -> int:
    """Stop and start again every service recorded in ``state_dir``; 0 if all came back RUNNING."""
    state = StateDir(state_dir)
    settings = load_settings(env=os.environ, overrides={"redis": {"url": state.recorded_url()}})
    with state.lock():
        services = running_services(state)
        if not services:
            _say(f"nothing recorded as running in {state.root}")
            return 1
        _say("stopping " + ", ".join(f"{spec.key} (pid {pid})" for spec, pid, _ in services))
        stop_processes([pid for _, pid, _ in services], stop_timeout)
        expected: dict[str, int | None] = {}
        for spec, _, argv in services:
            pid = relaunch(state, spec, argv)
            _say(f"started {spec.key} (pid {pid})")
            expected.update({name: pid for name in spec.heartbeats})

    async def wait() -> bool:
        connector = heartbeats.connect(settings.redis, name="bec-scihub-restart")
        try:
            return await heartbeats.wait_running(connector, expected, timeout, seen)
        finally:
            await connector.close()

    seen: dict[str, heartbeats.Heartbeat | None] = {}
    if asyncio.run(wait()):
        _say("all services RUNNING again: " + ", ".join(expected))
        return 0
    missing = [n for n in expected if (b := seen.get(n)) is None or not b.running]
    _say(f"not RUNNING within {timeout:g} s: {', '.join(missing)}")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the helper; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for RUNNING")
    parser.add_argument("--stop-timeout", type=float, default=13.0, help="SIGTERM to SIGKILL, seconds")
    args = parser.parse_args(argv)
    try:
        return restart(args.state_dir, args.timeout, args.stop_timeout)
    except BECError as exc:
        _say(f"failed: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
