"""``bec-server start`` and ``stop``: Redis, then the services as background processes.

``start`` leaves everything running detached (own session, output to a log
file, a PID file each) and returns once every heartbeat says RUNNING; if a
service does not come up it stops what it started and raises
:class:`LaunchError` with the reason and the last lines of the log.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bec_core.config import ServiceSettings
from bec_core.errors import BECError, ConfigError, ConnectorError, RedisServerError
from bec_core.launcher import heartbeats
from bec_core.launcher.diagnose import redis_hint, reported_errors
from bec_core.launcher.procs import is_alive, stop_processes, tail
from bec_core.launcher.redis_setup import (
    EmbeddedRedis,
    RedisTarget,
    check_credentials,
    probe,
    services_url,
    start_embedded,
)
from bec_core.launcher.specs import SERVICES, ServiceSpec, default_device_config, resolve_command
from bec_core.launcher.state import REDIS_KEY, StateDir

__all__ = [
    "LaunchError",
    "LaunchOptions",
    "Started",
    "abort",
    "child_env",
    "first_exit",
    "preflight",
    "prepare_redis",
    "service_argv",
    "spawn",
    "start",
    "stop",
    "wait_up",
]

Say = Callable[[str], None]


class LaunchError(BECError):
    """``bec-server`` could not do what was asked; the text says why (and what it cleaned up)."""


@dataclass
class LaunchOptions:
    """Everything ``start``/``stop``/``status`` need, resolved from flags, environment and files."""

    settings: ServiceSettings
    state: StateDir
    device_config: Path | None = None
    service_config: Path | None = None
    log_level: str | None = None
    timeout: float = 30.0
    specs: tuple[ServiceSpec, ...] = SERVICES

    @property
    def target(self) -> RedisTarget:
        """The Redis address from the settings."""
        return RedisTarget.from_settings(self.settings.redis)

    @property
    def stop_timeout(self) -> float:
        """How long a service gets between SIGTERM and SIGKILL: its drain deadline plus a margin."""
        return self.settings.timeouts.shutdown + 3.0


@dataclass
class Started:
    """One process ``start`` left running."""

    key: str
    pid: int
    log: Path
    detail: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_offset: int = 0


def resolve_device_config(opts: LaunchOptions) -> Path | None:
    """``opts.device_config`` (it must exist), else None.

    Without ``--config`` the device server restores the config stored in Redis (the last
    applied one, runtime changes included); the checkout's ``config/devices/demo.yaml`` is
    passed as ``--initial-config``, used only by a Redis that holds no config yet.
    """
    path = opts.device_config
    if path is None:
        return None
    if not path.is_file():
        raise LaunchError(f"device configuration {path} not found")
    return path.absolute()


def service_argv(
    spec: ServiceSpec, opts: LaunchOptions, device_config: Path | None, redis_url: str | None = None
) -> list[str]:
    """The command line of one service: its entry point plus the pass-through flags.

    ``--redis`` is ``redis_url``, by default the embedded Redis's unix socket while bec-server
    runs that Redis (:func:`~bec_core.launcher.redis_setup.services_url`), else the configured URL.
    Credentials never go on a command line (``ps`` shows it): see :func:`child_env`.
    """
    argv = resolve_command(spec)
    if spec.device_config and device_config is not None:
        argv += ["--config", str(device_config)]
    elif spec.device_config and (initial := default_device_config()) is not None:
        argv += ["--initial-config", str(initial)]
    url = redis_url if redis_url is not None else services_url(opts.state, opts.target)
    argv += ["--redis", url, "--state-dir", str(opts.state.root)]
    if opts.service_config is not None:
        argv += ["--service-config", str(opts.service_config.absolute())]
    if opts.log_level:
        argv += ["--log-level", opts.log_level]
    return argv + list(spec.extra_args)


def child_env(opts: LaunchOptions, redis_url: str | None = None) -> dict[str, str]:
    """The services' environment: ours plus the resolved Redis credentials, the TCP address when they
    get the embedded Redis's socket (``BEC_REDIS_TCP_URL``) and unbuffered output."""
    env = dict(os.environ)
    kwargs = opts.settings.redis.connection_kwargs()
    if kwargs.get("username") is not None:
        env["BEC_REDIS_USERNAME"] = kwargs["username"]
    if kwargs.get("password") is not None:
        env["BEC_REDIS_PASSWORD"] = kwargs["password"]
    if redis_url is None:
        redis_url = services_url(opts.state, opts.target)
    if redis_url != opts.target.url:  # the services get the socket
        env["BEC_REDIS_TCP_URL"] = opts.target.url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _running_elsewhere(opts: LaunchOptions) -> list[str]:
    """Heartbeats of our service names that are alive on this Redis (another deployment runs)."""
    names = [name for spec in opts.specs for name in spec.heartbeats]

    async def read() -> dict[str, heartbeats.Heartbeat | None]:
        connector = heartbeats.connect(opts.settings.redis)
        try:
            return await heartbeats.read_heartbeats(connector, names)
        finally:
            await connector.close()

    found = []
    me = socket.gethostname()
    for name, beat in asyncio.run(read()).items():
        if beat is None or beat.status.value <= 0:  # IDLE or ERROR: stopped
            continue
        if beat.hostname == me and beat.pid is not None and not is_alive(beat.pid):
            continue  # a process of ours that was killed; its key has not expired yet
        found.append(f"{name} (pid {beat.pid} on {beat.hostname})")
    return found


def prepare_redis(opts: LaunchOptions, say: Say) -> EmbeddedRedis | None:
    target = opts.target
    answer = probe(target)
    if answer == "other":
        raise LaunchError(
            f"{target.where} is taken by a program that is not Redis; "
            f"pass --redis with another port (or stop that program)"
        )
    embedded = None
    if answer == "none":
        try:
            embedded = start_embedded(opts.state, opts.settings.redis, target)
        except RedisServerError as exc:
            raise LaunchError(f"cannot start Redis at {target.where}: {exc}") from None
        say(f"{'redis':<14} pid {embedded.pid:<8} {target.url} (data in {opts.state.redis_data})")
    try:
        check_credentials(opts.settings.redis)
        busy = _running_elsewhere(opts)
    except ConnectorError as exc:
        _stop_redis(embedded)
        raise LaunchError(f"Redis check failed: {exc}") from None
    if busy:
        _stop_redis(embedded)
        raise LaunchError(f"already running on {target.where}: {', '.join(busy)}; stop those first")
    return embedded


def _stop_redis(embedded: EmbeddedRedis | None) -> None:
    if embedded is not None:
        stop_processes([embedded.pid], 10.0)
        embedded.server.stop()


def spawn(spec: ServiceSpec, opts: LaunchOptions, device_config: Path | None, pipe: bool = False) -> Started:
    """Start one service in its own session and write its PID file.

    Its stdout and stderr go to ``logs/<key>.log``, or to a pipe (``proc.stdout``)
    when ``pipe`` is true (foreground mode copies that to the terminal and the log).
    """
    url = services_url(opts.state, opts.target)  # one probe of the socket for argv and environment
    argv = service_argv(spec, opts, device_config, url)
    log_path = opts.state.log_file(spec.key)
    with open(log_path, "ab") as log:
        log.write(f"=== bec-server start {time.strftime('%Y-%m-%d %H:%M:%S')}: {argv[0]}\n".encode())
        log.flush()
        offset = log.tell()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe else log,
                stderr=subprocess.STDOUT,
                env=child_env(opts, url),
                start_new_session=True,  # outlives bec-server; Ctrl-C in its terminal does not reach it
            )
        except OSError as exc:
            raise LaunchError(f"cannot run {spec.key} ({argv[0]}): {exc}") from None
    opts.state.write_pid(spec.key, proc.pid)
    return Started(spec.key, proc.pid, log_path, proc=proc, log_offset=offset)


async def first_exit(started: list[Started]) -> Started:
    """Complete with the first of ``started`` whose process exits (event-driven via pidfd)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Started] = loop.create_future()
    fds: list[int] = []

    def on_exit(item: Started) -> None:
        if not done.done():
            done.set_result(item)

    try:
        for item in started:
            fd = os.pidfd_open(item.pid)
            fds.append(fd)
            loop.add_reader(fd, on_exit, item)
        return await done
    finally:
        for fd in fds:
            loop.remove_reader(fd)
            os.close(fd)


async def wait_up(
    opts: LaunchOptions, started: list[Started], seen: dict[str, heartbeats.Heartbeat | None]
) -> str | None:
    """Wait until every heartbeat of ``started`` says RUNNING; return ``None``, or why not.

    The reason names the service that exited during start (with its exit
    status) or the heartbeats still missing at the deadline, and quotes the
    last lines of that service's log.
    """
    by_key = {item.key: item for item in started}
    expected = {name: by_key[spec.key].pid for spec in opts.specs for name in spec.heartbeats}
    connector = heartbeats.connect(opts.settings.redis)
    exited = asyncio.ensure_future(first_exit(started))
    try:
        ok = await heartbeats.wait_running(connector, expected, opts.timeout, seen, abort=exited)
    finally:
        exited.cancel()
        await connector.close()
    if ok:
        return None
    if exited.done() and not exited.cancelled():
        culprit = exited.result()
        code = await asyncio.to_thread(_exit_status, culprit)
        what = f"{culprit.key} exited with status {code} during start"
    else:
        missing = {n for n in expected if (b := seen.get(n)) is None or not b.running}
        states = "; ".join(f"{n}: {_state_name(seen.get(n))}" for n in sorted(missing))
        what = f"not RUNNING within {opts.timeout:g} s ({states})"
        culprit = next(by_key[s.key] for s in opts.specs if missing & set(s.heartbeats))
    log_tail = tail(culprit.log, lines=40, start=culprit.log_offset)
    hint = redis_hint(log_tail, opts.settings.redis.connection_kwargs().get("username") or "default")
    shown = "\n".join(log_tail.splitlines()[-15:])
    return f"{what}{hint}\n--- last lines of {culprit.log} ---\n{shown or '(empty)'}"


def _state_name(beat: heartbeats.Heartbeat | None) -> str:
    return beat.status.name if beat is not None else "no heartbeat"


def _exit_status(item: Started) -> int | None:
    if item.proc is not None:
        return item.proc.wait()
    return None


def preflight(opts: LaunchOptions) -> Path | None:
    """Checks before anything starts; returns the device configuration to pass on.

    Call with ``opts.state.lock()`` held. Removes stale PID files.

    Raises:
        LaunchError: a service already runs from this state directory, the
            device configuration or a command is missing.
    """
    running = [
        f"{spec.key} (pid {pid})"
        for spec in opts.specs
        if (pid := opts.state.live_pid(spec.key, spec.markers)) is not None
    ]
    if running:
        raise LaunchError(
            f"already running from {opts.state.root}: {', '.join(running)}; "
            "use 'bec-server stop' or 'bec-server restart'"
        )
    for spec in opts.specs:
        opts.state.remove_pid(spec.key)
    device_config = resolve_device_config(opts) if any(s.device_config for s in opts.specs) else None
    try:
        for spec in opts.specs:
            resolve_command(spec)
    except ConfigError as exc:
        raise LaunchError(str(exc)) from None
    return device_config


def start(opts: LaunchOptions, say: Say = print) -> list[Started]:
    """Start Redis (if none answers) and every service; return once all heartbeats say RUNNING.

    Raises:
        LaunchError: something is already running, a file is missing, Redis is
            unusable, or a service did not come up; whatever this call started
            has been stopped again.
    """
    with opts.state.lock():
        device_config = preflight(opts)
        embedded = prepare_redis(opts, say)
        started: list[Started] = []
        seen: dict[str, heartbeats.Heartbeat | None] = {}
        try:
            for spec in opts.specs:
                started.append(spawn(spec, opts, device_config))
            reason = asyncio.run(wait_up(opts, started, seen))
        except BaseException:
            abort(opts, started, embedded)
            raise
        if reason is not None:
            abort(opts, started, embedded)
            cleaned = "stopped what it started" + (" (including Redis)" if embedded else "")
            raise LaunchError(f"{reason}\nbec-server {cleaned}")
        opts.state.redis_url_file.write_text(opts.target.url + "\n")
    for item in started:
        say(f"{item.key:<14} pid {item.pid:<8} RUNNING  log {item.log}")
    for item in started:
        for line in reported_errors(item.log, item.log_offset):
            say(f"warning: {item.key} reported: {line}")
    if embedded is not None:
        started.insert(0, Started(REDIS_KEY, embedded.pid, opts.state.log_file(REDIS_KEY), embedded.url))
    return started


def abort(
    opts: LaunchOptions, started: list[Started], embedded: EmbeddedRedis | None, timeout: float = 3.0
) -> set[int]:
    """Stop ``started`` (SIGTERM, SIGKILL after ``timeout`` s), then ``embedded``; remove their PID files.

    Returns the pids that needed SIGKILL.
    """
    _, killed = stop_processes([item.pid for item in started], timeout)
    for item in started:
        if item.proc is not None:
            item.proc.wait()
        opts.state.remove_pid(item.key)
    _stop_redis(embedded)
    if embedded is not None:
        opts.state.remove_pid(REDIS_KEY)
    return killed


def _live(opts: LaunchOptions, keys: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, int]:
    out = {}
    for key, markers in keys:
        pid = opts.state.live_pid(key, markers)
        if pid is None:
            opts.state.remove_pid(key)  # stale
        else:
            out[key] = pid
    return out


def stop(opts: LaunchOptions, say: Say = print) -> bool:
    """Stop what ``start`` left running: services (SIGTERM, SIGKILL after a deadline), then Redis.

    Only the Redis that bec-server started itself is stopped. Returns False
    if nothing was running (which is not an error).
    """
    with opts.state.lock():
        services = _live(opts, ((spec.key, spec.markers) for spec in opts.specs))
        redis = _live(opts, [(REDIS_KEY, ("redis-server",))])
        if not services and not redis:
            say(f"nothing is running from {opts.state.root}")
            opts.state.redis_url_file.unlink(missing_ok=True)
            return False
        for group, timeout in ((services, opts.stop_timeout), (redis, 10.0)):
            if not group:
                continue
            _, killed = stop_processes(group.values(), timeout)
            for key, pid in group.items():
                how = f"killed after {timeout:g} s" if pid in killed else "stopped"
                say(f"{key:<14} pid {pid:<8} {how}")
                opts.state.remove_pid(key)
        opts.state.redis_url_file.unlink(missing_ok=True)
    return True
