"""``bec-server status`` and ``bec-server check``: what the PID files and heartbeats say."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bec_core.config import RedisSettings
from bec_core.errors import ConnectorError
from bec_core.launcher import heartbeats
from bec_core.launcher.launcher import LaunchOptions
from bec_core.launcher.redis_setup import probe
from bec_core.launcher.specs import SERVICES, ServiceSpec
from bec_core.launcher.state import REDIS_KEY

__all__ = ["ServiceRow", "check", "status"]


@dataclass(frozen=True)
class ServiceRow:
    """One line of ``bec-server status``."""

    key: str
    heartbeat: str
    pid: int | None
    """From the PID file if bec-server started it here, else from the heartbeat."""
    state: str
    """RUNNING, BUSY, IDLE, ERROR, or ``no heartbeat``."""
    uptime: float | None
    host: str | None
    log: str | None

    @property
    def running(self) -> bool:
        """True if the heartbeat says RUNNING."""
        return self.state == "RUNNING"


async def _read(settings: RedisSettings, names: list[str]) -> dict[str, heartbeats.Heartbeat | None]:
    connector = heartbeats.connect(settings)
    try:
        await connector.connect()
        return await heartbeats.read_heartbeats(connector, names)
    finally:
        await connector.close()


def read_all(settings: RedisSettings, names: list[str]) -> dict[str, heartbeats.Heartbeat | None]:
    """Every heartbeat in ``names``.

    Raises:
        ConnectorError: Redis is unreachable or refuses the credentials.
    """
    return asyncio.run(_read(settings, names))


def status(opts: LaunchOptions) -> tuple[list[ServiceRow], str]:
    """Rows for every service heartbeat and a line about Redis.

    Redis being unreachable is not an exception here: the rows then say
    ``unknown`` and the Redis line says why.
    """
    target = opts.target
    redis_pid = opts.state.live_pid(REDIS_KEY, ("redis-server",))
    names = [name for spec in opts.specs for name in spec.heartbeats]
    try:
        beats = read_all(opts.settings.redis, names)
        redis_line = f"Redis {target.url}: answers"
    except ConnectorError as exc:
        beats = {}
        answer = probe(target)
        redis_line = (
            f"Redis {target.url}: {exc}" if answer == "redis" else f"Redis {target.url}: not reachable"
        )
    if redis_pid is not None:
        redis_line += f" (started by bec-server, pid {redis_pid}, log {opts.state.log_file(REDIS_KEY)})"
    rows = []
    for spec in opts.specs:
        pid = opts.state.live_pid(spec.key, spec.markers)
        for name in spec.heartbeats:
            beat = beats.get(name)
            if name not in beats:
                state = "unknown"
            else:
                state = beat.status.name if beat is not None else "no heartbeat"
            rows.append(
                ServiceRow(
                    key=spec.key,
                    heartbeat=name,
                    pid=pid if pid is not None else (beat.pid if beat else None),
                    state=state,
                    uptime=beat.uptime if beat else None,
                    host=beat.hostname if beat else None,
                    log=str(opts.state.log_file(spec.key)) if pid is not None else None,
                )
            )
    return rows, redis_line


def check(
    settings: RedisSettings, services: list[ServiceSpec] | None = None, names: list[str] | None = None
) -> tuple[bool, str]:
    """The health probe: are these heartbeats RUNNING? Returns ``(ok, one line of explanation)``.

    Args:
        services: whose heartbeats to check (default: every service bec-server knows).
        names: check exactly these heartbeat names instead.
    """
    if names is None:
        names = [name for spec in (services or list(SERVICES)) for name in spec.heartbeats]
    try:
        beats = read_all(settings, names)
    except ConnectorError as exc:
        return False, str(exc)
    bad = [
        f"{n}: {b.status.name if b else 'no heartbeat'}"
        for n, b in beats.items()
        if b is None or not b.running
    ]
    if bad:
        return False, "not running: " + "; ".join(bad)
    return True, "running: " + ", ".join(names)
