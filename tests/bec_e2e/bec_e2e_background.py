"""Run stock BEC's e2e suite in a background process while the rest of the test session runs.

The suite spends most of its time waiting on the stock client and on the
stack, so overlapping it with the other tests shortens the session. The run is
``run_bec_e2e.py`` itself (the command a developer runs by hand), writing its
run record to a JSON file that ``test_bec_e2e_suite.py`` compares with the
expectations once everything else is done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@dataclass
class BackgroundRun:
    """One background run: its process, where it writes, and its log."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    record_path: Path
    log_path: Path

    def result(self, timeout: float) -> dict[str, Any]:
        """Wait for the run (at most ``timeout`` s) and return its record; raises with the log's tail."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"the e2e run did not finish within {timeout:.0f} s; log: {self.log_path}") from None
        if not self.record_path.is_file():
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the e2e run left no record (exit {self.proc.returncode}):\n{tail}")
        return json.loads(self.record_path.read_text())

    def stop(self) -> None:
        """Stop the run and everything it started (its own process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_background_run(root: Path) -> BackgroundRun:
    """Start ``run_bec_e2e.py`` for the whole suite; returns at once."""
    workdir = Path(tempfile.mkdtemp(prefix="bec-e2e-"))
    record = workdir / "run.json"
    log_path = workdir / "runner.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "run_bec_e2e.py"), "--workdir", str(workdir), "--json", str(record)],
            cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return BackgroundRun(proc, workdir, record, log_path)


#: Where the session keeps its background run (set at collection by tests/conftest.py).
E2E_RUN = pytest.StashKey[BackgroundRun]()
