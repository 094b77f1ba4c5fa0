"""Turn what a service wrote into its log into a short reason for ``bec-server`` output."""

from __future__ import annotations

import re
from pathlib import Path

from bec_core.launcher.procs import tail

__all__ = ["redis_hint", "reported_errors"]

_NOPERM = re.compile(r"no permissions to run the '([\w|]+)' command")


def redis_hint(log_text: str, user: str) -> str:
    """A one-line diagnosis when the log shows Redis refused ``user`` or a command ('' if not)."""
    match = _NOPERM.search(log_text)
    if match:
        return (
            f": Redis user {user!r} may not run {match.group(1).upper()} "
            f"(add the permission to its ACL, e.g. +@all ~* &*)"
        )
    if "requires a user and password" in log_text:
        return ": Redis requires a user and password (set BEC_REDIS_USERNAME and BEC_REDIS_PASSWORD)"
    if "WRONGPASS" in log_text or "refused user" in log_text:
        return f": Redis refused user {user!r} (check BEC_REDIS_USERNAME/BEC_REDIS_PASSWORD)"
    return ""


def reported_errors(log: Path, start: int = 0, limit: int = 10) -> list[str]:
    """ERROR/CRITICAL lines a service logged from byte ``start`` on (e.g. a device that failed to load)."""
    lines = tail(log, lines=200, start=start).splitlines()
    found = [line.strip() for line in lines if " ERROR " in line or " CRITICAL " in line]
    return found[:limit]
