"""Writing back the state keys a service owns into a Redis that restarted without them.

A Redis that restarts loses what it had not written to disk: everything without
persistence, and with ``appendfsync everysec`` up to its last second or two of
writes, acknowledged ones included (its AOF write waits behind a slow fsync).
Keys that clients read as state (a scan's status, the queue, the device
configuration) would then be missing, or older than what the service knows.

A :class:`Restater` writes each key a service owns again after every pub/sub
reconnection (the sign that Redis went away), with ``SET ... NX``: only where it is
missing, so a newer value written in the meantime stays. Nothing is published:
subscribers read the keys after their own reconnection, and a publication repeated
now would reach them out of order with newer ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from bec_core.redis_connector import AsyncRedisConnector

log = logging.getLogger(__name__)

#: ``("SET", key, value, "NX", ...)``: one key to write back where missing
Command = tuple[Any, ...]


class Restater:
    """Writes ``commands()`` (``SET ... NX`` each) after every reconnection of ``connector``."""

    def __init__(
        self, connector: AsyncRedisConnector, commands: Callable[[], Sequence[Command]], owner: str
    ) -> None:
        self.connector = connector
        self._commands = commands
        self.owner = owner
        self.restored = 0  #: keys written back so far
        self._tasks: set[asyncio.Task[int]] = set()

    def start(self) -> None:
        """Restate after every reconnection of the connector's pub/sub reader."""
        self.connector.on_reconnect(self._on_reconnect)

    def _on_reconnect(self) -> None:
        task = asyncio.get_running_loop().create_task(self._restate_logged(), name="restate-keys")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restate_logged(self) -> int:
        try:
            return await self.restate()
        except Exception as exc:  # Redis away again: the next reconnection tries again
            log.warning("could not check the %s's state keys after a reconnection: %s", self.owner, exc)
            return 0

    async def restate(self) -> int:
        """Write back every missing key; returns how many were missing."""
        commands = list(self._commands())
        if not commands:
            return 0
        async with self.connector.redis.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies = await pipe.execute()
        written = [str(command[1]) for command, reply in zip(commands, replies, strict=True) if reply]
        if written:
            self.restored += len(written)
            shown = ", ".join(written[:10]) + (f" and {len(written) - 10} more" if len(written) > 10 else "")
            log.warning(
                "Redis had lost %d state key(s) of the %s (it restarted without its last writes): "
                "written back %s",
                len(written),
                self.owner,
                shown,
            )
        return len(written)


def set_missing(key: str, value: bytes, expire_s: int | None = None) -> Command:
    """The command that writes ``value`` at ``key`` only if the key is missing."""
    return ("SET", key, value, "NX", "EX", expire_s) if expire_s else ("SET", key, value, "NX")


__all__ = ["Command", "Restater", "set_missing"]
