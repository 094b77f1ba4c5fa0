"""Pending requests kept in Redis, so a queued request survives a scan-server restart.

Per queue one LIST ``internal/scan_server/queue/<name>`` of entries (our wire
format): ``VariableMessage(value={"queue_id", "scan_id", "request": ScanQueueMessage})``.
An entry is written *before* the request is accepted, removed when the item
starts (or is cancelled); reordering rewrites the list in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bec_core.messages import ScanQueueMessage, VariableMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps, loads

log = logging.getLogger(__name__)

PREFIX = "internal/scan_server/queue/"


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """One pending request as stored."""

    queue: str
    queue_id: str
    scan_id: str | None
    request: ScanQueueMessage
    raw: bytes


def encode(queue_id: str, scan_id: str | None, request: ScanQueueMessage) -> bytes:
    """The stored bytes of a pending request."""
    return dumps(VariableMessage(value={"queue_id": queue_id, "scan_id": scan_id, "request": request}))


class QueueStore:
    """Reads and writes the pending requests of every queue."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.redis = connector.redis

    @staticmethod
    def key(queue: str) -> str:
        """The list holding ``queue``'s pending requests."""
        return PREFIX + queue

    async def append(self, queue: str, raw: bytes, pipe: Any = None) -> None:
        """Add a request at the end of the queue; only queued on ``pipe`` if given."""
        if pipe is not None:
            pipe.rpush(self.key(queue), raw)
            return
        await self.redis.rpush(self.key(queue), raw)

    async def remove(self, queue: str, raw: bytes, pipe: Any = None) -> None:
        """Drop a request (it started, or was cancelled); only queued on ``pipe`` if given."""
        if pipe is not None:
            pipe.lrem(self.key(queue), 1, raw)
            return
        await self.redis.lrem(self.key(queue), 1, raw)

    async def rewrite(self, queue: str, raws: list[bytes]) -> None:
        """Replace the queue's list (after a reorder or an insert), atomically."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.key(queue))
            if raws:
                pipe.rpush(self.key(queue), *raws)
            await pipe.execute()

    async def load(self) -> list[StoredRequest]:
        """Every stored request of every queue, in queue order."""
        out: list[StoredRequest] = []
        found = [k async for k in self.redis.scan_iter(PREFIX + "*")]
        keys = sorted(k.decode() if isinstance(k, bytes) else k for k in found)
        for key in keys:
            queue = key[len(PREFIX) :]
            for raw in await self.redis.lrange(key, 0, -1):
                try:
                    value = loads(raw).value
                    request = value["request"]
                    if not isinstance(request, ScanQueueMessage):
                        raise TypeError("not a ScanQueueMessage")
                    out.append(
                        StoredRequest(queue, str(value["queue_id"]), value.get("scan_id"), request, raw)
                    )
                except Exception as exc:  # a damaged entry must not block the others
                    log.error("dropping an unreadable stored request in %s: %s", key, exc)
                    await self.redis.lrem(key, 1, raw)
        return out
