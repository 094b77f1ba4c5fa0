"""Writing back the state keys a restarted Redis lost.

A Redis that restarts loses what it had not written to disk: everything without
persistence, and with ``appendfsync everysec`` up to its last second or two of
writes, acknowledged ones included (its AOF write waits behind a slow fsync). A
scan that closed just before Redis was killed then has no end in Redis: its
``info/public/<scan_id>/scan_info`` and ``info/scans/scan_status`` keys are gone or
still say ``open``, and a client that looks, or one that starts afterwards, waits for
a scan that finished long ago. The same holds for ``info/queue/queue_status``.

These keys are the scan server's own. On every pub/sub reconnection (the sign that
Redis went away) :class:`Restater` writes each of them again where it is missing
(``SET ... NX``: a newer value written in the meantime stays). Nothing is published:
subscribers read the keys after their own reconnection, and a publication repeated
now would reach them out of order with newer ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueStatusMessage, ScanStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps

log = logging.getLogger(__name__)


class Restater:
    """Writes the last scan status and the queue status back into a Redis that lost them."""

    def __init__(
        self,
        connector: AsyncRedisConnector,
        last_status: Callable[[], ScanStatusMessage | None],
        queue_status: Callable[[], ScanQueueStatusMessage],
        expiry_s: int,
    ) -> None:
        self.connector = connector
        self._last_status = last_status
        self._queue_status = queue_status
        self.expiry_s = expiry_s
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
            log.warning("could not check the scan and queue status keys after a reconnection: %s", exc)
            return 0

    def commands(self) -> list[tuple[Any, ...]]:
        """The ``SET ... NX`` commands for the keys this server owns."""
        commands: list[tuple[Any, ...]] = []
        status = self._last_status()
        if status is not None:
            raw = dumps(status)
            info = MessageEndpoints.public_scan_info(status.scan_id).endpoint
            terminal = status.status not in ("open", "paused")
            expiry = ("EX", self.expiry_s) if terminal else ()
            commands.append(("SET", info, raw, "NX", *expiry))
            commands.append(("SET", MessageEndpoints.scan_status().endpoint, raw, "NX"))
        queue = dumps(self._queue_status())
        commands.append(("SET", MessageEndpoints.scan_queue_status().endpoint, queue, "NX"))
        return commands

    async def restate(self) -> int:
        """Write back every missing key; returns how many were missing."""
        commands = self.commands()
        async with self.connector.redis.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies = await pipe.execute()
        written = [command[1] for command, reply in zip(commands, replies, strict=True) if reply]
        if written:
            self.restored += len(written)
            log.warning(
                "Redis had lost %d state key(s) of the scan server (it restarted without its last "
                "writes): written back %s",
                len(written),
                ", ".join(written),
            )
        return len(written)


__all__ = ["Restater"]
