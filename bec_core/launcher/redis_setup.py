"""Find the Redis ``bec-server`` should use, or start the embedded one, and check credentials."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bec_core.config import RedisSettings
from bec_core.errors import ConfigError, ConnectorError, RedisServerError
from bec_core.launcher.state import REDIS_KEY, StateDir
from bec_core.redis_server import MAX_UNIX_PATH, RedisServer

__all__ = [
    "EmbeddedRedis",
    "RedisTarget",
    "check_credentials",
    "probe",
    "services_socket",
    "services_url",
    "start_embedded",
]

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
Answer = Literal["redis", "other", "none"]


@dataclass(frozen=True)
class RedisTarget:
    """Where the Redis of a URL lives: a TCP ``host:port`` or a unix socket ``path``."""

    url: str
    host: str | None
    port: int | None
    path: str | None
    tls: bool

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> RedisTarget:
        """Parse ``settings.url`` (credentials are not part of the target)."""
        parts = urlsplit(settings.url)
        url = settings.connection_kwargs()["url"]
        if parts.scheme == "unix":
            return cls(url, None, None, parts.path, False)
        return cls(url, parts.hostname, parts.port or 6379, None, parts.scheme == "rediss")

    @property
    def local(self) -> bool:
        """True if an embedded Redis could serve this address (loopback or unix socket, no TLS)."""
        return not self.tls and (self.path is not None or self.host in _LOCAL_HOSTS)

    @property
    def where(self) -> str:
        """``host:port`` or the socket path, for messages."""
        return self.path if self.path is not None else f"{self.host}:{self.port}"


def probe(target: RedisTarget, timeout: float = 1.0) -> Answer:
    """Does a Redis answer at ``target``? ``"redis"``, ``"other"`` (something else listens) or ``"none"``.

    A Redis that wants credentials (``-NOAUTH``) answers too. TLS targets are not
    probed here (``"redis"`` is assumed: the credentials check talks to them).
    """
    if target.tls:
        return "redis"
    family = (
        socket.AF_UNIX if target.path else (socket.AF_INET6 if ":" in (target.host or "") else socket.AF_INET)
    )
    address: object = target.path if target.path else (target.host, target.port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)  # type: ignore[arg-type]
    except OSError:
        sock.close()
        return "none"
    try:
        sock.sendall(b"PING\r\n")
        reply = sock.recv(64)
    except OSError:
        return "other"
    finally:
        sock.close()
    return "redis" if reply.startswith((b"+PONG", b"-NOAUTH", b"-WRONGPASS", b"-DENIED")) else "other"


@dataclass
class EmbeddedRedis:
    """A Redis that bec-server started: its pid, its address and (while attached) its handle."""

    pid: int
    url: str
    server: RedisServer


def _acl_file(state: StateDir, settings: RedisSettings) -> Path | None:
    """Write ``redis/users.acl`` when an ACL user is configured (mode 0600); ``None`` otherwise."""
    kwargs = settings.connection_kwargs()
    user = kwargs.get("username")
    if user is None or user == "default":
        return None
    password = kwargs.get("password")
    secret = f">{password}" if password else "nopass"
    path = state.redis_data / "users.acl"
    path.touch(mode=0o600)
    path.write_text(f"user {user} on {secret} ~* &* +@all\nuser default off\n")
    return path


def services_socket(state: StateDir, target: RedisTarget) -> Path | None:
    """The unix socket an embedded Redis for TCP ``target`` also listens on, for the local services.

    A message over a unix socket costs each side less CPU than over loopback TCP (on these
    machines about 15 % of a scan point, all processes together: docs/benchmarks.md);
    clients keep the TCP address. ``None`` when the path would be too long for a socket
    or the target's URL names a database other than 0.
    """
    path = state.redis_socket
    if len(os.fsencode(path)) > MAX_UNIX_PATH or urlsplit(target.url).path not in ("", "/", "/0"):
        return None
    return path


def services_url(state: StateDir, target: RedisTarget) -> str:
    """The Redis URL for the services bec-server starts: the unix socket of the embedded Redis
    while that Redis runs and answers there (see :func:`services_socket`), else ``target.url``."""
    path = services_socket(state, target) if target.path is None else None
    if path is None or not path.exists() or state.live_pid(REDIS_KEY, ("redis-server",)) is None:
        return target.url
    url = f"unix://{path}"
    return url if probe(RedisTarget(url, None, None, str(path), False)) == "redis" else target.url


def start_embedded(state: StateDir, settings: RedisSettings, target: RedisTarget) -> EmbeddedRedis:
    """Start ``redis-server`` for ``target`` with append-only persistence in ``<state-dir>/redis``.

    It runs in its own session, so it outlives the ``bec-server`` command and
    Ctrl-C in the terminal does not reach it. Configured credentials are
    enforced: a password alone becomes ``requirepass``, a user an ACL file.

    Raises:
        RedisServerError: the address is not local, is taken, or the server did not come up.
    """
    if not target.local:
        raise RedisServerError(
            f"no Redis answers at {target.where}, and bec-server starts its own Redis only on "
            f"this host (127.0.0.1, localhost, ::1 or a unix socket); start that Redis or fix --redis"
        )
    kwargs = settings.connection_kwargs()
    acl = _acl_file(state, settings)
    host = "127.0.0.1" if target.host == "localhost" else (target.host or "127.0.0.1")
    server = RedisServer(
        port=target.port,
        host=host,
        unixsocket=target.path or services_socket(state, target),
        persistence="aof",
        data_dir=state.redis_data,
        password=None if acl else kwargs.get("password"),
        acl_file=acl,
        log_file=state.log_file(REDIS_KEY),
    )
    try:
        server.start()
    except ConfigError as exc:
        raise RedisServerError(str(exc)) from None
    assert server.pid is not None
    state.write_pid(REDIS_KEY, server.pid)
    return EmbeddedRedis(server.pid, target.url, server)


async def _check(settings: RedisSettings) -> None:
    from bec_core.redis_connector import AsyncRedisConnector

    kwargs = settings.connection_kwargs()
    connector = AsyncRedisConnector(
        kwargs["url"],
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        name="bec-server",
        retries=1,
        connect_timeout=settings.socket_timeout,
    )
    try:
        await connector.connect()
    finally:
        await connector.close()


def check_credentials(settings: RedisSettings) -> None:
    """Connect once with the configured user and password.

    Raises:
        ConnectorError: Redis is unreachable or refused them; the message names the user.
    """
    try:
        asyncio.run(_check(settings))
    except ConnectorError:
        raise
    except Exception as exc:  # e.g. a TLS handshake failure
        raise ConnectorError(f"cannot use Redis at {settings.redacted_url()}: {exc}") from exc
