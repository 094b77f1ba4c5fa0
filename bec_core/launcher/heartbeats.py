"""Read the services' heartbeats (``user/services/status/<Name>``) and wait for them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bec_core.config import RedisSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import DecodeError
from bec_core.messages import BECStatus, StatusMessage

if TYPE_CHECKING:
    from bec_core.redis_connector import AsyncRedisConnector

__all__ = ["Heartbeat", "connect", "read_heartbeats", "wait_running"]

#: Safety net: re-read the keys this often while waiting, in case a publication was missed.
_REREAD_INTERVAL = 1.0


@dataclass(frozen=True)
class Heartbeat:
    """One service's last heartbeat."""

    name: str
    status: BECStatus
    pid: int | None
    hostname: str | None
    uptime: float | None
    version: str | None

    @classmethod
    def from_message(cls, msg: StatusMessage) -> Heartbeat:
        """Take the fields ``bec-server status`` shows out of a StatusMessage."""
        info: Any = msg.info if isinstance(msg.info, dict) else msg.info.model_dump()
        pid = info.get("pid")
        uptime = info.get("uptime")
        return cls(
            name=msg.name,
            status=msg.status,
            pid=int(pid) if isinstance(pid, int) else None,
            hostname=info.get("hostname"),
            uptime=float(uptime) if isinstance(uptime, int | float) else None,
            version=info.get("version") or (info.get("versions") or {}).get("bec_core"),
        )

    @property
    def running(self) -> bool:
        """True if the service says RUNNING."""
        return self.status == BECStatus.RUNNING


def connect(settings: RedisSettings, name: str = "bec-server") -> AsyncRedisConnector:
    """A connector with the configured credentials that gives up quickly (one retry)."""
    from bec_core.redis_connector import AsyncRedisConnector

    kwargs = settings.connection_kwargs()
    return AsyncRedisConnector(
        kwargs["url"],
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        name=name,
        retries=1,
        connect_timeout=settings.socket_timeout,
    )


def _parse(name: str, value: Any) -> Heartbeat | None:
    return Heartbeat.from_message(value) if isinstance(value, StatusMessage) else None


async def read_heartbeats(
    connector: AsyncRedisConnector, names: Iterable[str]
) -> dict[str, Heartbeat | None]:
    """The current heartbeat of each name (``None``: no key, i.e. not running or expired)."""
    names = list(names)
    out: dict[str, Heartbeat | None] = {}
    for name in names:
        try:
            value = await connector.get(MessageEndpoints.service_status(name))
        except DecodeError:
            value = None
        out[name] = _parse(name, value)
    return out


def _satisfied(seen: Mapping[str, Heartbeat | None], expected: Mapping[str, int | None]) -> bool:
    for name, pid in expected.items():
        beat = seen.get(name)
        if beat is None or not beat.running or (pid is not None and beat.pid != pid):
            return False
    return True


async def wait_running(
    connector: AsyncRedisConnector,
    expected: Mapping[str, int | None],
    timeout: float,
    seen: dict[str, Heartbeat | None] | None = None,
    abort: Awaitable[Any] | None = None,
) -> bool:
    """Wait until every heartbeat in ``expected`` says RUNNING (from the given pid, if not ``None``).

    Subscribes to the heartbeat publications, then reads the keys (so nothing
    published in between is missed), then waits for publications.

    Args:
        seen: filled with the last heartbeat of each name, also when the wait fails.
        abort: when this completes first, the wait ends and returns False
            (the launcher passes "a service process exited").

    Returns:
        True when all are RUNNING; False on timeout or abort.
    """
    seen = {} if seen is None else seen
    deadline = time.monotonic() + timeout
    abort_task = asyncio.ensure_future(abort) if abort is not None else None
    try:
        async with contextlib.AsyncExitStack() as stack:
            sub = await stack.enter_async_context(connector.subscribe(MessageEndpoints.service_status()))
            seen.update(await read_heartbeats(connector, expected))
            next_reread = time.monotonic() + _REREAD_INTERVAL
            while not _satisfied(seen, expected):
                now = time.monotonic()
                if now >= deadline:
                    return False
                if now >= next_reread:
                    seen.update(await read_heartbeats(connector, expected))
                    next_reread = now + _REREAD_INTERVAL
                    continue
                get = asyncio.ensure_future(sub.get())
                waiters: set[asyncio.Future[Any]] = {get}
                if abort_task is not None:
                    waiters.add(abort_task)
                done, _ = await asyncio.wait(
                    waiters, timeout=min(deadline, next_reread) - now, return_when=asyncio.FIRST_COMPLETED
                )
                if get in done:
                    msg = get.result()
                    name = msg.topic.rsplit("/", 1)[-1]
                    if name in expected:
                        seen[name] = _parse(name, msg.value) or seen.get(name)
                else:
                    get.cancel()
                if abort_task is not None and abort_task in done:
                    return False
            return True
    finally:
        if abort_task is not None and not abort_task.done():
            abort_task.cancel()
