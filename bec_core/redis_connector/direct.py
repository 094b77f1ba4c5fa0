"""A batch of raw commands written as one packet on a connection held by one caller.

A hot path that sends a few commands per round trip (the scan server's point:
the previous point's publications and the next instruction) pays redis-py's
pipeline layers (pool, command stack, per-command bookkeeping, tens of µs) and
one socket write per batch. :class:`DirectBatch` packs the commands itself and
writes them in one ``send`` on a connection of its own. On a connection or
timeout error it drops that connection and runs the same commands through an
ordinary pipeline of the pool, with the connector's outage retries, exactly as
a failed pipeline would have been retried. While one batch is under way a
concurrent caller goes through the pool instead of queueing behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

Command = Sequence[Any]


class OwnConnection:
    """One connection taken from a redis-py asyncio client's pool and kept (packed commands go out on
    it without the pool's per-command layers); :meth:`close` gives it back, disconnected."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._conn: Any = None

    async def connection(self) -> Any:
        """The kept connection (taken from the pool on first use, or after :meth:`close`)."""
        if self._conn is None:
            self._conn = await self.redis.connection_pool.get_connection()
        return self._conn

    async def close(self) -> None:
        """Give the connection back to the pool, disconnected."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.disconnect(nowait=True)
            finally:
                await self.redis.connection_pool.release(conn)


class DirectBatch(OwnConnection):
    """Runs lists of raw commands (``("XADD", key, ...)``) in one write; replies are returned in order,
    an error reply as its :class:`~redis.exceptions.ResponseError` (not raised)."""

    def __init__(self, redis: Any) -> None:
        super().__init__(redis)
        self._busy = False

    async def run(self, commands: Sequence[Command]) -> list[Any]:
        """Execute ``commands`` in order; connection trouble falls back to the pool (with retries)."""
        if not commands:
            return []
        if self._busy:
            return await self._pooled(commands)
        self._busy = True
        try:
            return await self._run_own(commands)
        finally:
            self._busy = False

    async def _run_own(self, commands: Sequence[Command]) -> list[Any]:
        try:
            conn = await self.connection()
            await conn.send_packed_command(pack(commands), check_health=False)
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:  # the reply was read: the connection is in step
                    replies.append(exc)
            return replies
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.info("direct connection lost (%s): using the pool", exc)
            await self.close()
        except BaseException:
            await self.close()  # cancelled mid-command: the connection is out of step
            raise
        return await self._pooled(commands)

    async def _pooled(self, commands: Sequence[Command]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        raise TypeError(f"a Redis argument cannot be a bool: {value!r}")
    if isinstance(value, (int, float)):
        return repr(value).encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"a Redis argument must be bytes, str or a number, not {type(value).__name__}")


def pack(commands: Sequence[Command]) -> bytes:
    """The RESP encoding of ``commands`` (what redis-py's ``pack_commands`` sends, in one buffer)."""
    out: list[bytes] = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for value in command:
            raw = _arg(value)
            out += (b"$%d\r\n" % len(raw), raw, b"\r\n")
    return b"".join(out)


__all__ = ["DirectBatch", "pack"]
