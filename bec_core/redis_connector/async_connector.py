"""The asyncio Redis connector (redis-py asyncio + hiredis).

Every method that takes an endpoint checks the endpoint's allowed operations
and message type first and raises before anything is sent. Methods that write
accept ``pipe=`` (from :meth:`AsyncRedisConnector.pipeline`) to batch several
commands into one round trip.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bec_core.endpoints import EndpointInfo
from bec_core.errors import ConnectorError, DecodeError, RedisCredentialsError
from bec_core.redis_connector import streams
from bec_core.redis_connector.base import (
    ConnectorStats,
    MessageObject,
    StreamEntry,
    Topic,
    check,
    message_time,
    topic_name,
)
from bec_core.redis_connector.direct import DirectBatch, RawPipeline
from bec_core.redis_connector.pubsub import (
    DEFAULT_QUEUE_SIZE,
    CallbackHandle,
    InlineSubscription,
    Overflow,
    PubSubDispatcher,
    Subscription,
)
from bec_core.redis_connector.retry import DEFAULT_OUTAGE_TIMEOUT, OutageRetry, RedisHealth
from bec_core.serialization import CODEC_KEY, dumps, loads_message

log = logging.getLogger(__name__)

#: what ``pipe=`` takes: a redis-py pipeline (:meth:`AsyncRedisConnector.pipeline`) or a raw one
#: (:meth:`AsyncRedisConnector.batch`)
Pipe = Pipeline | RawPipeline


def normalize_url(address: str) -> str:
    """``host:port`` (BEC's bootstrap form) or a redis://, rediss://, unix:// URL → a URL."""
    if "://" in address:
        return address
    host, _, port = address.rpartition(":")
    if not host:
        host, port = address, "6379"
    return f"redis://{host}:{port}"


#: how to give the credentials (the services' settings and the ``bec`` client read these)
CREDENTIALS_HOW = "set BEC_REDIS_USERNAME and BEC_REDIS_PASSWORD, or `bec --username U --password P`"


def credentials_refusal(url: str, username: str | None, password: str | None, exc: BaseException) -> str:
    """What to tell a user whose credentials Redis refused: which were sent and what to change.

    Redis says only "Authentication required" (none sent) or "invalid username-password pair
    or user is disabled" (one of the three); the text says which credentials went out, so the
    user knows whether to add them or to correct them. Never the password itself.
    """
    user = username or "default"
    text = str(exc).rstrip(".")
    if password is None and "required" in text.lower():
        return f"Redis at {url} requires a user and password and none was given ({text}): {CREDENTIALS_HOW}"
    if password is None:
        return f"Redis at {url} refused user {user!r}, sent without a password ({text}): {CREDENTIALS_HOW}"
    return (
        f"Redis at {url} refused user {user!r} with the password given ({text}): the user does not exist, "
        f"is disabled, or the password does not match; check BEC_REDIS_USERNAME and BEC_REDIS_PASSWORD"
    )


class AsyncRedisConnector:
    """BEC's connector surface on asyncio.

    Args:
        address: ``"host:port"`` or a ``redis://``, ``rediss://`` or ``unix://`` URL.
        username, password: Redis ACL credentials (override the URL's).
        outage_timeout: how long a command waits (retrying with exponential back-off)
            for an unreachable Redis to come back before the connection error is raised.
            ``health`` tells callers whether Redis is down and for how long. Default
            60 s, or ``connect_timeout`` when the older ``retries`` argument is given (a
            tool that wants to fail fast).
    """

    def __init__(
        self,
        address: str = "127.0.0.1:6379",
        *,
        username: str | None = None,
        password: str | None = None,
        name: str = "bec_core",
        outage_timeout: float | None = None,
        connect_timeout: float = 5.0,
        retries: int | None = None,
    ) -> None:
        self.url = normalize_url(address)
        self.name = name
        self.username = username
        self._password = password
        self.connect_timeout = connect_timeout
        if outage_timeout is None:
            outage_timeout = connect_timeout if retries is not None else DEFAULT_OUTAGE_TIMEOUT
        self.outage_timeout = outage_timeout
        self.health = RedisHealth()
        kwargs: dict[str, Any] = {
            "socket_connect_timeout": connect_timeout,
            # No per-command socket timeout: redis-py wraps every send and read in
            # asyncio.wait_for for it, a task per command on Python 3.11. A dead peer is
            # found by TCP keepalive and the idle health check; every wait of ours has its
            # own deadline above the connector.
            "socket_timeout": None,
            "health_check_interval": 30,
            "retry": OutageRetry(self.health, outage_timeout),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionRefusedError, OSError],
            "client_name": name.replace(" ", "_"),
        }
        if not self.url.startswith("unix:"):
            kwargs["socket_keepalive"] = True  # a TCP option: redis-py's unix connection refuses it
        if username is not None:
            kwargs["username"] = username
        if password is not None:
            kwargs["password"] = password
        # Typed as Any: redis-py 8 declares every reply as a wide union that is no help here.
        self.redis: Any = aioredis.Redis.from_url(self.url, **kwargs)
        # The pub/sub reader reconnects and resubscribes by itself (and then tells the
        # connector's listeners, who re-ask for what they may have missed): no retries below it.
        self.pubsub_redis: Any = aioredis.Redis.from_url(
            self.url, **{**kwargs, "retry": Retry(NoBackoff(), 0), "retry_on_error": []}
        )
        self.stats = ConnectorStats()
        self._pubsub = PubSubDispatcher(self)
        self._callbacks: list[CallbackHandle] = []
        self._stream_tasks: dict[int, asyncio.Task[None]] = {}
        self._stream_cursors: dict[str, str] = {}
        self._direct: DirectBatch | None = None  #: the connection of :meth:`batch`, once used

    # ------------------------------------------------------------------ lifecycle
    async def connect(self) -> AsyncRedisConnector:
        """Check that Redis answers (within ``connect_timeout``) and accepts our credentials;
        raise a clear error if not.

        One attempt, no outage retries: a Redis that is not there at the start is a
        configuration problem to report at once, not an outage to ride out.
        """
        try:
            await asyncio.wait_for(self.pubsub_redis.ping(), self.connect_timeout)
        except TimeoutError:
            raise ConnectorError(
                f"cannot reach Redis at {self.url}: no answer within {self.connect_timeout:g} s"
            ) from None
        except AuthenticationError as exc:
            raise RedisCredentialsError(
                credentials_refusal(self.url, self.username, self._password, exc)
            ) from None
        except NoPermissionError as exc:
            raise RedisCredentialsError(
                f"Redis user {self.username or 'default'!r} may not run PING at {self.url}: {exc} "
                "(add the permission to the user's ACL, e.g. +@all ~* &*)"
            ) from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise ConnectorError(f"cannot reach Redis at {self.url}: {exc}") from None
        self.health.ever_up = True  # from now on a failure is an outage to ride out
        return self

    async def close(self) -> None:
        """Cancel every subscription and close all connections (idempotent)."""
        for handle in self._callbacks:
            if handle.task:
                handle.task.cancel()
        for task in self._stream_tasks.values():
            task.cancel()
        tasks = [h.task for h in self._callbacks if h.task] + list(self._stream_tasks.values())
        await asyncio.gather(*tasks, return_exceptions=True)
        self._callbacks.clear()
        self._stream_tasks.clear()
        await self._pubsub.close()
        if self._direct is not None:
            await self._direct.close()
            self._direct = None
        await self.redis.aclose()
        await self.pubsub_redis.aclose()

    async def __aenter__(self) -> AsyncRedisConnector:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_reconnected(self, timeout: float | None = None) -> None:
        """Wait until the pub/sub reader has reconnected and resubscribed after a lost connection."""
        event = self._pubsub.reconnected
        if timeout is None:
            await event.wait()
        else:
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    async def ping(self) -> bool:
        """True if Redis answers."""
        return bool(await self.redis.ping())

    async def probe(self, timeout: float = 2.0) -> bool:
        """True if Redis answers a PING within ``timeout`` s; a miss is recorded in ``health``
        (a frozen Redis raises nothing, it just does not answer)."""
        try:
            await asyncio.wait_for(self.redis.ping(), timeout)
        except (TimeoutError, RedisError, OSError) as exc:
            self.health.failed(exc)
            return False
        self.health.succeeded()
        return True

    def on_reconnect(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` (plain; may start tasks) each time the pub/sub reader has reconnected
        and resubscribed: publications in between were missed, ask again for what matters."""
        self._pubsub.listeners.append(callback)

    # ------------------------------------------------------------------ key/value
    async def get(self, topic: Topic) -> Any:
        """The message stored at the key (``None`` if absent).

        For a pattern endpoint (e.g. ``MessageEndpoints.device_read()``) the most
        recently produced message among all matching keys.
        """
        key = check(topic, "get")
        if "*" in key:
            keys = await self.keys(key)
            if not keys:
                return None
            values = [v for v in await self.mget(keys) if v is not None]
            return max(values, key=message_time) if values else None
        return self._decode(await self.redis.get(key), key)

    async def mget(self, topics: Iterable[Topic]) -> list[Any]:
        """Several keys in one round trip (``None`` for absent ones)."""
        keys = [check(t, "get") for t in topics]
        if not keys:
            return []
        return [self._decode(raw, k) for raw, k in zip(await self.redis.mget(keys), keys, strict=True)]

    async def set(
        self, topic: Topic, msg: Any, *, expire: float | None = None, pipe: Pipe | None = None
    ) -> None:
        """``SET`` the message (KEY_VALUE endpoints)."""
        key = check(topic, "set", msg)
        await self._run(pipe, "set", key, dumps(msg), ex=_ex(expire))

    async def set_and_publish(
        self, topic: Topic, msg: Any, *, expire: float | None = None, pipe: Pipe | None = None
    ) -> None:
        """``SET`` and ``PUBLISH`` the same bytes in one round trip (SET_PUBLISH endpoints)."""
        key = check(topic, "set_and_publish", msg)
        raw = dumps(msg)
        own = pipe if pipe is not None else self.batch()
        own.set(key, raw, ex=_ex(expire))
        own.publish(key, raw)
        if pipe is None:
            await self._write(own, "set_and_publish", key)

    async def send(self, topic: Topic, msg: Any, *, pipe: Pipe | None = None) -> None:
        """``PUBLISH`` the message (SEND endpoints)."""
        key = check(topic, "send", msg)
        await self._run(pipe, "publish", key, dumps(msg))

    async def raw_send(self, channel: str, data: bytes | str) -> int:
        """Publish bytes unvalidated (tests, tools)."""
        return await self.redis.publish(channel, data)

    async def delete(self, topic: Topic, *, pipe: Pipe | None = None) -> None:
        """``DEL`` the key."""
        await self._run(pipe, "delete", check(topic, "delete"))

    async def keys(self, topic: Topic) -> list[str]:
        """Keys matching the endpoint or pattern, found with ``SCAN`` (never ``KEYS``)."""
        pattern = check(topic, "keys") if isinstance(topic, EndpointInfo) else str(topic)
        found = [
            k.decode() if isinstance(k, bytes) else k async for k in self.redis.scan_iter(pattern, count=1000)
        ]
        return sorted(set(found))

    # ------------------------------------------------------------------ lists
    async def lpush(
        self,
        topic: Topic,
        msg: Any,
        *,
        max_size: int | None = None,
        expire: float | None = None,
        pipe: Pipe | None = None,
    ) -> None:
        """Push to the head; keep the newest ``max_size`` entries."""
        await self._push("lpush", topic, msg, max_size, expire, pipe)

    async def rpush(
        self,
        topic: Topic,
        msg: Any,
        *,
        max_size: int | None = None,
        expire: float | None = None,
        pipe: Pipe | None = None,
    ) -> None:
        """Push to the tail; keep the newest ``max_size`` entries."""
        await self._push("rpush", topic, msg, max_size, expire, pipe)

    async def _push(
        self,
        cmd: str,
        topic: Topic,
        msg: Any,
        max_size: int | None,
        expire: float | None,
        pipe: Pipe | None,
    ) -> None:
        key = check(topic, cmd, msg)
        own = pipe if pipe is not None else self.batch()
        getattr(own, cmd)(key, dumps(msg))
        if max_size:
            own.ltrim(key, 0, max_size - 1) if cmd == "lpush" else own.ltrim(key, -max_size, -1)
        if expire:
            own.expire(key, max(1, round(expire)))
        if pipe is None:
            await self._write(own, cmd, key)

    async def lrange(self, topic: Topic, start: int, end: int) -> list[Any]:
        """Decoded list entries ``start..end`` (inclusive, as LRANGE)."""
        key = check(topic, "lrange")
        return [self._decode(raw, key) for raw in await self.redis.lrange(key, start, end)]

    async def llen(self, topic: Topic) -> int:
        """Length of the list."""
        return int(await self.redis.llen(check(topic, "llen")))

    async def ltrim(self, topic: Topic, start: int, end: int, *, pipe: Pipe | None = None) -> None:
        """Keep only entries ``start..end``."""
        await self._run(pipe, "ltrim", check(topic, "ltrim"), start, end)

    async def lrem(self, topic: Topic, count: int, msg: Any, *, pipe: Pipe | None = None) -> None:
        """Remove ``count`` entries equal to ``msg``."""
        key = check(topic, "lrem", msg)
        await self._run(pipe, "lrem", key, count, dumps(msg))

    async def blocking_list_pop(
        self, topic: Topic, side: Literal["LEFT", "RIGHT"] = "LEFT", timeout_s: float | None = None
    ) -> Any:
        """Pop one entry, waiting up to ``timeout_s`` (forever if None); ``None`` on timeout."""
        key = check(topic, "blocking_list_pop")
        cmd = self.redis.blpop if side.upper() == "LEFT" else self.redis.brpop
        result = await cmd([key], timeout=timeout_s or 0)
        return None if result is None else self._decode(result[1], key)

    # ------------------------------------------------------------------ streams
    async def xadd(
        self,
        topic: Topic,
        msg_dict: dict[str, Any],
        *,
        max_size: int | None = None,
        expire: float | None = None,
        approximate: bool = True,
        pipe: Pipe | None = None,
    ) -> Any:
        """Append an entry (each field value encoded on its own); returns the id unless pipelined."""
        key = check(topic, "xadd")
        if isinstance(topic, EndpointInfo):
            for value in msg_dict.values():
                check(topic, "xadd", value)
        fields: dict[Any, Any] = {name: dumps(value) for name, value in msg_dict.items()}
        own = pipe if pipe is not None else self.batch()
        own.xadd(key, fields, maxlen=max_size, approximate=approximate)
        if expire:
            own.expire(key, max(1, round(expire)))
        if pipe is None:
            result = await self._write(own, "xadd", key)
            return result[0].decode() if isinstance(result[0], bytes) else result[0]
        return None

    async def xrange(
        self, topic: Topic, min: str = "-", max: str = "+", count: int | None = None
    ) -> list[dict]:
        """Entries between ids ``min`` and ``max`` as decoded field dicts."""
        key = check(topic, "xrange")
        return [streams.decode_fields(f, key) for _id, f in await self.redis.xrange(key, min, max, count)]

    async def get_last(self, topic: Topic, key: str | None = "data", count: int = 1) -> Any:
        """The newest entry (or ``count`` newest, oldest first); with ``key`` just that field."""
        name = check(topic, "get_last")
        entries = await self.redis.xrevrange(name, count=count)
        if not entries:
            return None
        decoded: list[Any] = [streams.decode_fields(f, name) for _id, f in reversed(entries)]
        if key is not None:
            decoded = [d.get(key) for d in decoded]
        return decoded[0] if count == 1 else decoded

    async def xread(
        self,
        topic: Topic,
        id: str | None = None,
        count: int | None = None,
        block: int | None = None,
        from_start: bool = False,
    ) -> list[dict] | None:
        """Stateful read as in BEC: without ``id`` the first call returns only the newest entry
        (or all with ``from_start``), later calls what came since the previous call."""
        key = check(topic, "xread")
        cursor = id or self._stream_cursors.get(key)
        if cursor is None:
            if from_start:
                cursor = "0-0"
            else:
                newest = await self.redis.xrevrange(key, count=1)
                if not newest:
                    self._stream_cursors[key] = "0-0"
                    return None
                entry_id, fields = newest[0]
                self._stream_cursors[key] = streams._text(entry_id)
                return [streams.decode_fields(fields, key)]
        response = await self.redis.xread({key: cursor}, count=count, block=block)
        if not response:
            return None
        entries = response[0][1]
        self._stream_cursors[key] = streams._text(entries[-1][0])
        return [streams.decode_fields(f, key) for _id, f in entries]

    async def xack(self, topic: Topic, group: str, *ids: str) -> int:
        """Acknowledge stream entries read through ``group``."""
        return int(await self.redis.xack(topic_name(topic), group, *ids))

    def consume(
        self,
        topic: Topic,
        group: str,
        consumer: str | None = None,
        *,
        count: int = 100,
        claim_pending: bool = True,
    ) -> AsyncIterator[StreamEntry]:
        """Read a stream through a consumer group (acknowledged delivery); see :mod:`.streams`."""
        key = check(topic, "xread")
        return streams.consume_group(
            self,
            key,
            group,
            consumer or streams.default_consumer_name(),
            count=count,
            claim_pending=claim_pending,
        )

    # ------------------------------------------------------------------ pipelines
    def pipeline(self, transaction: bool = False) -> Pipeline:
        """A pipeline for ``pipe=`` arguments; run it with :meth:`execute_pipeline`."""
        return self.redis.pipeline(transaction=transaction)

    def batch(self, transaction: bool = False) -> RawPipeline:
        """A pipeline for ``pipe=`` arguments written as one packet on a connection the connector
        keeps (:class:`~bec_core.redis_connector.direct.RawPipeline`: Redis's own replies, none
        decoded); for hot write paths. Connection trouble falls back to the pool, with retries."""
        if self._direct is None:
            self._direct = DirectBatch(self.redis)
        return RawPipeline(self._direct, transaction)

    async def execute_pipeline(self, pipe: Pipeline) -> list[Any]:
        """Run a pipeline; GET-like results are decoded.

        A command the ACL user may not run raises :class:`ConnectorError` naming user and command.
        """
        try:
            results = await pipe.execute()
        except NoPermissionError as exc:
            raise ConnectorError(f"Redis user {self.username or 'default'!r} may not run: {exc}") from None
        # Only results that hold a BEC message are decoded: an XADD's entry id (b"1764-0") or any
        # other plain bytes would otherwise be misread (b"1" is the msgpack integer 49 + extra data).
        return [self._decode(r, "pipeline") if is_message(r) else r for r in results]

    # ------------------------------------------------------------------ subscriptions
    def subscribe(
        self, topic: Topic, *, maxsize: int = DEFAULT_QUEUE_SIZE, overflow: Overflow = "drop_oldest"
    ) -> Subscription:
        """An async-iterator subscription: ``async with conn.subscribe(ep) as sub: async for m in sub``."""
        key = check(topic, "register")
        return Subscription(self._pubsub, key, "*" in key, maxsize, overflow)

    async def register(
        self,
        topic: Topic | Iterable[Topic],
        cb: Callable[..., Any],
        *,
        from_start: bool = False,
        newest_only: bool = False,
        maxsize: int = DEFAULT_QUEUE_SIZE,
        overflow: Overflow = "drop_oldest",
        on_undecodable: Callable[[str, bytes, DecodeError], Any] | None = None,
        **kwargs: Any,
    ) -> list[CallbackHandle]:
        """Call ``cb(MessageObject, **kwargs)`` for every message on the endpoint(s).

        ``on_undecodable(channel, raw, error)`` (pub/sub endpoints; plain, quick) is told of
        bytes that do not decode, which are otherwise only counted and logged.

        STREAM endpoints are followed with XREAD (``from_start`` replays the
        stream, ``newest_only`` skips to the latest entry). A coroutine callback
        runs in a task of its own behind a bounded queue (``maxsize``,
        ``overflow``); a plain callback is called as each message arrives and
        must be quick (it runs on the event loop).
        """
        topics = [topic] if isinstance(topic, (EndpointInfo, str)) else list(topic)
        handles = []
        for t in topics:
            is_stream = isinstance(t, EndpointInfo) and t.message_op.name == "STREAM"
            key = check(t, "register_stream" if is_stream else "register")
            pattern = "*" in key and not is_stream
            if inspect.iscoroutinefunction(cb) or inspect.iscoroutinefunction(type(cb).__call__):
                sub = Subscription(self._pubsub, key, pattern, maxsize, overflow)
            else:
                sub = InlineSubscription(self._pubsub, key, pattern, maxsize, overflow, cb=cb, kwargs=kwargs)
            sub.on_undecodable = on_undecodable
            handle = CallbackHandle(sub, cb, kwargs)
            handle.start(self)
            if is_stream:
                task = asyncio.get_running_loop().create_task(
                    streams.follow_stream(self, key, sub, from_start=from_start, newest_only=newest_only),
                    name=f"stream:{key}",
                )
                self._stream_tasks[id(handle)] = task
            else:
                await self._pubsub.add(sub)
            self._callbacks.append(handle)
            handles.append(handle)
        return handles

    async def register_stream(
        self, topic: Topic, cb: Callable[..., Any], **kwargs: Any
    ) -> list[CallbackHandle]:
        """Alias of :meth:`register` for STREAM endpoints (BEC's name)."""
        return await self.register(topic, cb, **kwargs)

    async def unregister(self, topic: Topic | None = None, cb: Callable[..., Any] | None = None) -> None:
        """Remove the callbacks on ``topic`` (all, or just ``cb``); release channels nobody uses."""
        key = topic_name(topic) if topic is not None else None
        for handle in list(self._callbacks):
            if (key is None or handle.sub.name == key) and (cb is None or handle.cb == cb):
                self._callbacks.remove(handle)
                if handle.task:
                    handle.task.cancel()
                task = self._stream_tasks.pop(id(handle), None)
                if task is not None:
                    task.cancel()
                else:
                    await self._pubsub.remove(handle.sub)

    # ------------------------------------------------------------------ helpers
    async def _run(self, pipe: Pipe | None, cmd: str, *args: Any, **kwargs: Any) -> None:
        """Queue one write command on ``pipe``, or (no pipe) run it at once as a packed write."""
        own = pipe if pipe is not None else self.batch()
        getattr(own, cmd)(*args, **kwargs)
        if pipe is None:
            await self._write(own, cmd, args[0])

    async def _write(self, batch: Pipe, cmd: str, key: str) -> list[Any]:
        """Run the packed write commands of one connector call (the first error reply raised; a command
        the ACL user may not run as a :class:`ConnectorError` naming user, command and key)."""
        try:
            return await batch.execute()
        except NoPermissionError as exc:
            raise ConnectorError(
                f"Redis user {self.username or 'default'!r} may not run {cmd.upper()} on {key!r}: {exc}"
            ) from None

    def _decode(self, raw: bytes | None, key: str) -> Any:
        if raw is None:
            return None
        try:
            return loads_message(raw, key)
        except DecodeError as exc:
            self.stats.decode_errors += 1
            log.warning("%s", exc)
            raise


_CODEC_MARK = CODEC_KEY.encode()


def is_message(value: Any) -> bool:
    """True for bytes that carry a BEC message envelope (worth decoding)."""
    return isinstance(value, bytes) and _CODEC_MARK in value[:64]


def _ex(expire: float | None) -> int | None:
    if expire is None:
        return None
    return max(1, round(expire))


__all__ = ["AsyncRedisConnector", "MessageObject", "Pipe", "RedisError", "normalize_url"]
