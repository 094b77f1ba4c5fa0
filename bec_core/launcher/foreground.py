"""``bec-server start --foreground``: everything attached to the terminal until Ctrl-C.

Each service's output is copied to the terminal with a ``[device-server]``
prefix and to its log file. Ctrl-C (or SIGTERM) stops the services, then the
Redis this command started. If a service exits on its own, the others are
stopped too and the exit status is 1.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from typing import IO

from bec_core.launcher import heartbeats
from bec_core.launcher.launcher import (
    LaunchOptions,
    Say,
    Started,
    abort,
    first_exit,
    preflight,
    prepare_redis,
    spawn,
    wait_up,
)

__all__ = ["run_foreground"]

_out_lock = threading.Lock()


def _pump(item: Started, out: IO[str]) -> None:
    """Copy one service's output, line by line, to ``out`` (prefixed) and to its log file."""
    assert item.proc is not None and item.proc.stdout is not None
    prefix = f"[{item.key}] "
    with open(item.log, "ab") as log:
        for raw in iter(item.proc.stdout.readline, b""):
            log.write(raw)
            log.flush()
            line = raw.decode(errors="replace").rstrip("\n")
            with _out_lock:
                out.write(prefix + line + "\n")
                out.flush()
    item.proc.stdout.close()


async def _supervise(opts: LaunchOptions, started: list[Started], say: Say) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stop_wait = asyncio.ensure_future(stop.wait())
    seen: dict[str, heartbeats.Heartbeat | None] = {}
    up = asyncio.ensure_future(wait_up(opts, started, seen))
    await asyncio.wait({up, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not up.done():
        up.cancel()
        await asyncio.gather(up, return_exceptions=True)
        say("bec-server: interrupted during start; stopping")
        return 130
    reason = up.result()
    if reason is not None:
        stop_wait.cancel()
        say(f"bec-server: start failed: {reason}")
        return 1
    names = ", ".join(f"{item.key} (pid {item.pid})" for item in started)
    say(f"bec-server: all services RUNNING: {names}; Ctrl-C stops them")
    exited = asyncio.ensure_future(first_exit(started))
    await asyncio.wait({exited, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if exited.done():
        stop_wait.cancel()
        item = exited.result()
        code = await asyncio.to_thread(item.proc.wait) if item.proc else None
        say(f"bec-server: {item.key} exited with status {code}; stopping the others")
        return 1
    exited.cancel()
    say("bec-server: stopping")
    return 0


def run_foreground(opts: LaunchOptions, say: Say = print, out: IO[str] | None = None) -> int:
    """Start Redis (if needed) and the services attached to this process; return the exit status.

    0 after Ctrl-C/SIGTERM with a clean stop, 1 if a service failed, 130 if
    interrupted before everything ran.

    Raises:
        LaunchError: a problem found before any service was started.
    """
    out = out or sys.stdout
    with opts.state.lock():
        device_config = preflight(opts)
        embedded = prepare_redis(opts, say)
        started: list[Started] = []
        try:
            for spec in opts.specs:
                started.append(spawn(spec, opts, device_config, pipe=True))
        except BaseException:
            abort(opts, started, embedded)
            raise
    pumps = [threading.Thread(target=_pump, args=(item, out), daemon=True) for item in started]
    for thread in pumps:
        thread.start()
    code = 1
    try:
        code = asyncio.run(_supervise(opts, started, say))
    finally:
        killed = abort(opts, started, embedded, timeout=opts.stop_timeout)
        for thread in pumps:
            thread.join(5.0)
        for item in started:
            assert item.proc is not None
            status = "killed" if item.pid in killed else f"exited with status {item.proc.returncode}"
            say(f"{item.key:<14} pid {item.pid:<8} {status}")
        if embedded is not None:
            say(f"{'redis':<14} pid {embedded.pid:<8} stopped")
    if code == 0 and (killed or any(item.proc and item.proc.returncode != 0 for item in started)):
        code = 1
    return code
