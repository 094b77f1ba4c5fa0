"""``bec-server``: run the bec-core services on one machine.

``bec-server start`` uses the Redis at ``--redis`` (starting an embedded one
with append-only persistence when nothing answers on a local address), starts
every service in the background and returns once all heartbeats say RUNNING;
``stop``, ``restart``, ``status`` and ``check`` (a health probe) complete the
set. PID files, logs and the embedded Redis's data live in one state directory
(:class:`~bec_core.launcher.state.StateDir`).

Modules: :mod:`.cli` (argument parsing), :mod:`.launcher` (start/stop),
:mod:`.foreground` (``--foreground``), :mod:`.health` (status/check),
:mod:`.heartbeats`, :mod:`.diagnose`, :mod:`.redis_setup`, :mod:`.specs`, :mod:`.state`, :mod:`.procs`.
"""

from __future__ import annotations

from bec_core.launcher.launcher import LaunchError, LaunchOptions, start, stop
from bec_core.launcher.specs import SERVICES, ServiceSpec
from bec_core.launcher.state import StateDir

__all__ = ["SERVICES", "LaunchError", "LaunchOptions", "ServiceSpec", "StateDir", "start", "stop"]
