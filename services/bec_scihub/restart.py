"""What a ``restart`` service request runs.

Stock SciHub runs ``bec_server.bec_server_utils.launch restart`` in a new session. Here:

* ``scihub.restart_command`` set: that argument vector (e.g. ``sudo systemctl restart
  bec.target`` under systemd, or a container orchestrator's command);
* unset, and this process was started by ``bec-server`` (its pid is in
  ``<state-dir>/run/scihub.pid``): ``python -m bec_scihub.restart_helper``, which stops
  the services recorded in the state directory and starts each again with its own
  command line (:mod:`bec_scihub.restart_helper`);
* otherwise (also under ``bec-server start --foreground``, whose supervisor would stop the
  stack when a service exits) the request is refused with a :class:`RestartError` saying why.

The command runs detached (own session, output appended to
``<state-dir>/logs/scihub-restart.log``) because it stops this process too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bec_core.launcher.procs import cmdline
from bec_core.launcher.state import StateDir
from bec_scihub.errors import RestartError

#: The launcher's key of this service (``run/scihub.pid``, ``logs/scihub.log``).
SERVICE_KEY = "scihub"
LOG_KEY = "scihub-restart"


class Restarter:
    """Decides and starts the restart command."""

    def __init__(self, command: list[str] | None, state_dir: Path, pid: int | None = None) -> None:
        self.command = command
        self.state = StateDir(state_dir)
        self.pid = os.getpid() if pid is None else pid

    def argv(self) -> list[str]:
        """The command a restart runs.

        Raises:
            RestartError: no ``restart_command`` and not started by ``bec-server``.
        """
        if self.command:
            return list(self.command)
        recorded = self.state.read_pid(SERVICE_KEY)
        if recorded != self.pid:
            raise RestartError(
                f"this SciHub (pid {self.pid}) was not started by 'bec-server start' with state directory "
                f"{self.state.root} (run/{SERVICE_KEY}.pid: {recorded or 'missing'}); set "
                "scihub.restart_command to the command that restarts this deployment"
            )
        parent = os.getppid()
        if "--foreground" in cmdline(parent):
            raise RestartError(
                f"'bec-server start --foreground' (pid {parent}) supervises this stack and would stop it "
                "when a service exits; restart it there (Ctrl-C, then start again)"
            )
        return [sys.executable, "-m", "bec_scihub.restart_helper", "--state-dir", str(self.state.root)]

    def launch(self) -> tuple[int, list[str]]:
        """Start the restart command detached; return its pid and argument vector.

        Raises:
            RestartError: see :meth:`argv`, or the command cannot be run.
        """
        argv = self.argv()
        self.state.ensure()
        log_path = self.state.log_file(LOG_KEY)
        with open(log_path, "ab") as log:
            log.write(f"=== restart requested {time.strftime('%Y-%m-%d %H:%M:%S')}: {argv}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # survives the SIGTERM this restart sends us
                )
            except OSError as exc:
                raise RestartError(f"cannot run the restart command {argv[0]!r}: {exc}") from None
        return proc.pid, argv
