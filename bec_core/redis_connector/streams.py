"""Stream reading: subscriptions that follow a stream, and consumer groups.

A stream subscription blocks in ``XREAD`` on its own connection, so a new
entry is delivered as soon as it is written (no polling interval), and a new
subscription starts at once. After a lost connection it resumes from the last
id it saw, so nothing written meanwhile is missed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bec_core.errors import DecodeError
from bec_core.redis_connector.base import MessageObject, StreamEntry
from bec_core.redis_connector.direct import OwnConnection, pack
from bec_core.redis_connector.pubsub import Subscription
from bec_core.serialization import loads

if TYPE_CHECKING:
    from bec_core.redis_connector.async_connector import AsyncRedisConnector

log = logging.getLogger(__name__)

_CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
BLOCK_MS = 2_000  # one blocking read; the loop re-issues it at once (liveness, not polling)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode_fields(fields: dict[bytes | str, bytes], key: str) -> dict[str, Any]:
    """Decode every field of a stream entry; raises DecodeError naming the stream."""
    out: dict[str, Any] = {}
    for name, raw in fields.items():
        try:
            out[_text(name)] = loads(raw)
        except DecodeError as exc:
            raise DecodeError(f"undecodable entry field {_text(name)!r} on stream {key}: {exc}") from None
    return out


async def last_id(connector: AsyncRedisConnector, key: str) -> str:
    """The id of the newest entry of a stream, ``0-0`` if it is empty."""
    newest = await connector.redis.xrevrange(key, count=1)
    return _text(newest[0][0]) if newest else "0-0"


async def follow_stream(
    connector: AsyncRedisConnector, key: str, sub: Subscription, *, from_start: bool, newest_only: bool
) -> None:
    """Feed ``sub`` with the entries of stream ``key`` until cancelled."""
    cursor: str | None = "0-0" if from_start else None
    delay = 0.05
    while True:
        try:
            if cursor is None:
                cursor = await last_id(connector, key)
                if newest_only and cursor != "0-0":
                    cursor = _decrement(cursor)
            response = await connector.redis.xread({key: cursor}, block=BLOCK_MS, count=1000)
            delay = 0.05
        except asyncio.CancelledError:
            raise
        except _CONNECTION_ERRORS as exc:
            log.warning("stream %s: lost connection (%s); retrying from %s", key, exc, cursor)
            await asyncio.sleep(delay)  # reconnection back-off
            delay = min(delay * 2, 2.0)
            continue
        for _stream, entries in response or []:
            if newest_only and entries:
                entries = entries[-1:]
            for entry_id, fields in entries:
                cursor = _text(entry_id)
                try:
                    decoded = decode_fields(fields, key)
                except DecodeError as exc:
                    connector.stats.decode_errors += 1
                    connector.stats.note_error(str(exc))
                    log.warning("%s (skipped)", exc)
                    continue
                value = decoded.get("data", decoded)
                await sub.offer(MessageObject(topic=key, value=value, id=cursor))


def _decrement(entry_id: str) -> str:
    ms, seq = (int(x) for x in entry_id.split("-"))
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-18446744073709551615" if ms > 0 else "0-0"


def default_consumer_name() -> str:
    """A consumer name unique to this process (host and PID)."""
    return f"{socket.gethostname()}-{os.getpid()}"


async def ensure_group(connector: AsyncRedisConnector, key: str, group: str) -> None:
    """Create the consumer group (and the stream) if it does not exist yet."""
    try:
        await connector.redis.xgroup_create(key, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def consume_group(
    connector: AsyncRedisConnector,
    key: str,
    group: str,
    consumer: str,
    *,
    count: int = 100,
    claim_pending: bool = True,
) -> AsyncIterator[StreamEntry]:
    """Yield entries delivered to ``consumer`` of ``group``; the caller acknowledges them.

    First the entries delivered earlier but never acknowledged (this
    consumer's, and with ``claim_pending`` every other consumer's, e.g. a
    previous process that died), then new ones as they arrive.
    """
    await ensure_group(connector, key, group)
    if claim_pending:
        start = "0-0"
        while True:
            result = await connector.redis.xautoclaim(key, group, consumer, min_idle_time=0, start_id=start)
            start = _text(result[0])
            if start == "0-0":
                break
    reader = GroupReader(connector.redis, key, group, consumer, count)
    try:
        async for entry in _consume(connector, reader, key, group, consumer, count):
            yield entry
    finally:
        await reader.close()


async def _consume(
    connector: AsyncRedisConnector, reader: GroupReader, key: str, group: str, consumer: str, count: int
) -> AsyncIterator[StreamEntry]:
    backlog_cursor: str | None = "0"  # None once the backlog is drained
    delay = 0.05
    while True:
        try:
            if backlog_cursor:
                response = await connector.redis.xreadgroup(
                    group, consumer, {key: backlog_cursor}, count=count, block=None
                )
            else:
                response = await reader.read()
            delay = 0.05
        except asyncio.CancelledError:
            raise
        except _CONNECTION_ERRORS as exc:
            log.warning("stream %s group %s: lost connection (%s); retrying", key, group, exc)
            await asyncio.sleep(delay)  # reconnection back-off
            delay = min(delay * 2, 2.0)
            backlog_cursor = "0"  # re-read what was delivered but not acknowledged (consumers dedupe)
            continue
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted: recreate the group
                await ensure_group(connector, key, group)
                continue
            raise
        entries = [e for _s, es in (response or []) for e in es]
        if backlog_cursor and not entries:
            backlog_cursor = None
            continue
        for entry_id, fields in entries:
            entry_id = _text(entry_id)
            if backlog_cursor:
                backlog_cursor = entry_id
            if fields is None:  # deleted while pending
                await connector.redis.xack(key, group, entry_id)
                continue
            entry = _decoded_entry(key, entry_id, fields)
            if entry.error is not None:
                connector.stats.decode_errors += 1
                connector.stats.note_error(str(entry.error))
            yield entry


class GroupReader(OwnConnection):
    """``XREADGROUP ... BLOCK ... >`` on a connection of its own, the command packed once.

    The new-entries read of :func:`consume_group` runs once per instruction; this skips
    redis-py's per-command layers (pool, command dispatch, reply callbacks). A connection
    error (or a cancellation mid-read) drops the connection and propagates: the caller's
    reconnection path (the backlog read through the pool, with its retries) takes over.
    """

    def __init__(self, redis: Any, key: str, group: str, consumer: str, count: int) -> None:
        super().__init__(redis)
        self.packed = pack(
            [("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "BLOCK", BLOCK_MS, "STREAMS", key, ">")]
        )

    async def read(self) -> list[Any]:
        """The reply in redis-py's shape: ``[[stream, [(id, {field: value}), ...]]]`` or ``[]``."""
        try:
            conn = await self.connection()
            await conn.send_packed_command(self.packed, check_health=False)
            response = await conn.read_response()
        except ResponseError:
            raise  # the reply was read: the connection is in step
        except BaseException:
            await self.close()
            raise
        return _group_reply(response)


def _group_reply(response: Any) -> list[Any]:
    """A raw XREADGROUP reply (RESP2 list or RESP3 map) as ``[[stream, [(id, fields)]]]``."""
    if not response:
        return []
    pairs = response.items() if isinstance(response, dict) else response
    out = []
    for stream, entries in pairs:
        parsed: list[tuple[Any, dict[Any, Any] | None]] = []
        for entry_id, flat in entries or []:
            if flat is None:
                parsed.append((entry_id, None))
            elif isinstance(flat, dict):
                parsed.append((entry_id, flat))
            else:
                parsed.append((entry_id, dict(zip(flat[::2], flat[1::2], strict=True))))
        out.append([stream, parsed])
    return out


def _decoded_entry(key: str, entry_id: str, fields: dict) -> StreamEntry:
    try:
        return StreamEntry(entry_id, decode_fields(fields, key))
    except DecodeError as exc:
        return StreamEntry(entry_id, {}, error=exc)
