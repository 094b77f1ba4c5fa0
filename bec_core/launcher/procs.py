"""Process helpers of the launcher: liveness, identity, waiting for exit, stopping.

Waiting is event-driven: a ``pidfd`` (Linux 5.3+) becomes readable when the
process exits, also when it is not our child. Where ``pidfd_open`` is missing
the wait falls back to probing every 20 ms.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Collection, Iterable
from pathlib import Path

__all__ = [
    "cmdline",
    "is_alive",
    "rss_kib",
    "signal_all",
    "stop_processes",
    "tail",
    "wait_all_exit",
]

_FALLBACK_POLL = 0.02


def _proc_state(pid: int) -> str | None:
    """The state letter from ``/proc/<pid>/stat`` (``R``, ``S``, ``Z``, ...); ``None`` if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return "?"
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] or "?"


def is_alive(pid: int) -> bool:
    """True if ``pid`` runs; a zombie (exited, not yet reaped) counts as dead."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return _proc_state(pid) not in (None, "Z", "X")


def cmdline(pid: int) -> list[str]:
    """The argument vector of ``pid`` (empty if it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of ``/proc/<pid>/status``), ``None`` if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def wait_all_exit(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until every process in ``pids`` has exited or ``timeout`` s passed; return those still alive."""
    remaining = {pid for pid in pids if is_alive(pid)}
    deadline = time.monotonic() + timeout
    fds: dict[int, int] = {}
    try:
        for pid in list(remaining):
            try:
                fds[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                remaining.discard(pid)
            except OSError:
                pass  # no pidfd support: probed below
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            unwatched = remaining - set(fds.values())
            wait = min(left, _FALLBACK_POLL) if unwatched else left
            for fd, _ in poller.poll(wait * 1000):
                remaining.discard(fds[fd])
                poller.unregister(fd)
            remaining = {pid for pid in remaining if is_alive(pid)}
    finally:
        for fd in fds:
            os.close(fd)
    return remaining


def signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    """Send ``sig`` to every live process in ``pids``; ones that are gone are skipped."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_processes(pids: Collection[int], timeout: float) -> tuple[set[int], set[int]]:
    """SIGTERM every process, SIGKILL what is left after ``timeout`` s.

    Returns:
        ``(stopped, killed)``: the pids that exited after SIGTERM and the ones
        that needed SIGKILL.
    """
    live = {pid for pid in pids if is_alive(pid)}
    signal_all(live, signal.SIGTERM)
    stubborn = wait_all_exit(live, timeout)
    if stubborn:
        signal_all(stubborn, signal.SIGKILL)
        wait_all_exit(stubborn, 5.0)
    return live - stubborn, stubborn


def tail(path: Path, lines: int = 15, start: int = 0) -> str:
    """The last ``lines`` lines of the file at ``path``, reading from byte offset ``start`` on."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(start, size - 16384))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
