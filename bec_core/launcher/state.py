"""The state directory of ``bec-server``: PID files, logs and the embedded Redis's data.

Layout::

    <state-dir>/run/<service>.pid     one process id per line-less file
    <state-dir>/run/redis.pid         only if bec-server started that Redis
    <state-dir>/run/redis.url         the Redis address the running services use
    <state-dir>/run/lock              held while start/stop/restart run
    <state-dir>/logs/<service>.log    stdout and stderr of each process
    <state-dir>/redis/                append-only file of the embedded Redis
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from bec_core.errors import ConfigError
from bec_core.launcher.procs import cmdline, is_alive

__all__ = ["REDIS_KEY", "StateDir"]

#: Name of the embedded Redis in the state directory (``run/redis.pid``, ``logs/redis.log``).
REDIS_KEY = "redis"


class StateDir:
    """Paths and PID files under one directory (``--state-dir``, ``BEC_STATE_DIR`` or the default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().absolute()
        self.run = self.root / "run"
        self.logs = self.root / "logs"
        self.redis_data = self.root / "redis"

    def ensure(self) -> StateDir:
        """Create the directories (the state directory is private: mode 0700)."""
        try:
            for path in (self.root, self.run, self.logs, self.redis_data):
                path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create the state directory {self.root}: {exc}") from exc
        return self

    def pid_file(self, key: str) -> Path:
        """``run/<key>.pid``."""
        return self.run / f"{key}.pid"

    def log_file(self, key: str) -> Path:
        """``logs/<key>.log``."""
        return self.logs / f"{key}.log"

    def write_pid(self, key: str, pid: int) -> Path:
        """Record ``pid`` for ``key`` (written atomically)."""
        path = self.pid_file(key)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{pid}\n")
        tmp.replace(path)
        return path

    def read_pid(self, key: str) -> int | None:
        """The recorded pid of ``key``, ``None`` if there is no (readable) PID file."""
        try:
            return int(self.pid_file(key).read_text().strip())
        except (OSError, ValueError):
            return None

    def live_pid(self, key: str, markers: Iterable[str]) -> int | None:
        """The recorded pid of ``key`` if that process still runs and is the one we started.

        A process whose command line contains none of ``markers`` is a recycled pid: ignored.
        """
        pid = self.read_pid(key)
        if pid is None or not is_alive(pid):
            return None
        args = " ".join(cmdline(pid))
        return pid if any(marker in args for marker in markers) else None

    def remove_pid(self, key: str) -> None:
        """Delete the PID file of ``key``."""
        self.pid_file(key).unlink(missing_ok=True)

    def recorded_url(self) -> str | None:
        """The Redis URL the running stack was started with, if recorded."""
        try:
            return self.redis_url_file.read_text().strip() or None
        except OSError:
            return None

    def recorded(self) -> list[str]:
        """Keys that have a PID file."""
        if not self.run.is_dir():
            return []
        return sorted(path.stem for path in self.run.glob("*.pid"))

    @property
    def redis_url_file(self) -> Path:
        """``run/redis.url``: the Redis address of the last ``start`` (``status``/``stop`` use it)."""
        return self.run / "redis.url"

    @property
    def redis_socket(self) -> Path:
        """``run/redis.sock``: the embedded Redis's unix socket, which the services use."""
        return self.run / "redis.sock"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``run/lock`` exclusively, so two ``bec-server start`` cannot interleave.

        Raises:
            ConfigError: another bec-server command holds the lock.
        """
        self.ensure()
        fd = os.open(self.run / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(
                    f"another bec-server command is working on {self.root} right now; try again"
                ) from None
            yield
        finally:
            os.close(fd)
