"""A batch of raw commands written as one packet on a connection held by one caller.

A hot path that sends a few commands per round trip (the scan server's point:
the previous point's publications and the next instruction) pays redis-py's
pipeline layers (pool, command stack, per-command bookkeeping, tens of µs) and
one socket write per batch. :class:`DirectBatch` packs the commands itself and
writes them in one ``send`` on a connection of its own. On a connection or
timeout error it drops that connection and runs the same commands through an
pooled connection, with the connector's outage retries, exactly as a failed
pipeline would have been retried (the replies stay Redis's own on both paths). While one batch is under way a
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
            return await _replies(conn, len(commands))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.info("direct connection lost (%s): using the pool", exc)
            await self.close()
        except BaseException:
            await self.close()  # cancelled mid-command: the connection is out of step
            raise
        return await self._pooled(commands)

    async def _pooled(self, commands: Sequence[Command]) -> list[Any]:
        """The same packet on a connection of the pool, with its outage retries (as a redis-py
        pipeline is retried); the replies are the same raw ones as on the kept connection."""
        packed = pack(commands)
        pool = self.redis.connection_pool
        conn = await pool.get_connection()  # connecting is retried by the connection itself

        async def attempt() -> list[Any]:
            await conn.send_packed_command(packed)
            return await _replies(conn, len(commands))

        async def fail(error: BaseException) -> None:
            await conn.disconnect()

        try:
            return list(await conn.retry.call_with_retry(attempt, fail))
        except BaseException:
            await conn.disconnect(nowait=True)  # cancelled or failed mid-command: out of step
            raise
        finally:
            await pool.release(conn)


async def _replies(conn: Any, count: int) -> list[Any]:
    """Read ``count`` replies; an error reply is returned as its exception (the connection stays
    in step: the reply was read)."""
    replies: list[Any] = []
    for _ in range(count):
        try:
            replies.append(await conn.read_response())
        except ResponseError as exc:
            replies.append(exc)
    return replies


class RawPipeline:
    """A pipeline for the connector's ``pipe=`` arguments that runs as one :class:`DirectBatch` write.

    The write commands the connector's ``pipe=`` methods queue (``set``, ``publish``, the list
    commands, ``xadd``, ...) are kept as raw commands, with redis-py's method signatures, and
    :meth:`execute` writes them in one packet on the batch's connection, without the pool and a
    redis-py pipeline per call. Replies are Redis's own (``SET`` gives
    ``b"OK"``, not ``True``): for write paths that only need each command done, in order. With
    ``transaction=True`` the commands go out between ``MULTI`` and ``EXEC``: all or none.
    """

    def __init__(self, batch: DirectBatch, transaction: bool = False) -> None:
        self._batch = batch
        self.transaction = transaction
        self.command_stack: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any, **options: Any) -> RawPipeline:
        """Queue one command (what every command method calls); its options only shape replies."""
        self.command_stack.append(args)
        return self

    def __len__(self) -> int:
        return len(self.command_stack)

    def set(self, name: Any, value: Any, ex: Any = None, nx: bool = False) -> RawPipeline:
        """``SET name value [EX ex] [NX]``."""
        args: list[Any] = ["SET", name, value]
        if ex is not None:
            args += ["EX", int(ex.total_seconds()) if hasattr(ex, "total_seconds") else ex]
        if nx:
            args.append("NX")
        return self.execute_command(*args)

    def publish(self, channel: Any, message: Any) -> RawPipeline:
        """``PUBLISH channel message``."""
        return self.execute_command("PUBLISH", channel, message)

    def delete(self, *names: Any) -> RawPipeline:
        """``DEL names...``."""
        return self.execute_command("DEL", *names)

    def exists(self, *names: Any) -> RawPipeline:
        """``EXISTS names...``."""
        return self.execute_command("EXISTS", *names)

    def expire(self, name: Any, time: int) -> RawPipeline:
        """``EXPIRE name seconds``."""
        return self.execute_command("EXPIRE", name, time)

    def lpush(self, name: Any, *values: Any) -> RawPipeline:
        """``LPUSH name values...``."""
        return self.execute_command("LPUSH", name, *values)

    def rpush(self, name: Any, *values: Any) -> RawPipeline:
        """``RPUSH name values...``."""
        return self.execute_command("RPUSH", name, *values)

    def ltrim(self, name: Any, start: int, end: int) -> RawPipeline:
        """``LTRIM name start end``."""
        return self.execute_command("LTRIM", name, start, end)

    def lrem(self, name: Any, count: int, value: Any) -> RawPipeline:
        """``LREM name count value``."""
        return self.execute_command("LREM", name, count, value)

    def xadd(
        self, name: Any, fields: dict[Any, Any], maxlen: int | None = None, approximate: bool = True
    ) -> RawPipeline:
        """``XADD name [MAXLEN [~] maxlen] * field value ...``."""
        args: list[Any] = ["XADD", name]
        if maxlen is not None:
            args += ["MAXLEN", "~", maxlen] if approximate else ["MAXLEN", maxlen]
        args.append("*")
        for field, value in fields.items():
            args += [field, value]
        return self.execute_command(*args)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Write the queued commands in one packet and return their replies in order; the first error
        reply is raised unless ``raise_on_error`` is false (then it is returned in its place)."""
        commands, self.command_stack = self.command_stack, []
        if not commands:
            return []
        if not self.transaction:
            replies = await self._batch.run(commands)
        else:
            framed = await self._batch.run([("MULTI",), *commands, ("EXEC",)])
            queued = [r for r in framed[1:-1] if isinstance(r, Exception)]
            if queued:  # a command refused as queued: EXEC answered EXECABORT, nothing ran
                raise queued[0]
            if isinstance(framed[-1], Exception):
                raise framed[-1]
            replies = list(framed[-1])
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies


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


__all__ = ["DirectBatch", "RawPipeline", "pack"]
