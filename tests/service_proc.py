"""One entry point run as a process for tests: its output in a log file, stopped with a signal.

Every system, integration and fault test that starts a bec-core service (``bec-scan-server``,
``bec-device-server``, ``bec-file-writer``, ``bec-dap``, ...) goes through :class:`Proc`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


class Proc:
    """A service started from its entry point, its output appended to ``log``.

    ``env`` is added to the environment; ``cwd`` defaults to the log's folder.
    """

    def __init__(
        self, args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.args, self.log, self.env = args, log, env
        self.cwd = cwd if cwd is not None else log.parent
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        """Start the process."""
        env = {**os.environ, **self.env} if self.env else None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd, env=env
            )
        return self

    @property
    def pid(self) -> int:
        """The process id (the process must have been started)."""
        assert self.proc is not None, "not started"
        return self.proc.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` and return the exit code (killed after ``timeout`` s)."""
        assert self.proc is not None, "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def tail(self, lines: int = 40) -> str:
        """The end of the process output (for failure messages)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
