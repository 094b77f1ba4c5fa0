"""Pub/sub: one reader task per connector, bounded per-subscription queues.

The reader decodes each publication once and offers it to every subscription
of that channel or pattern. Each subscription owns a bounded queue with a
stated overflow policy:

* ``"drop_oldest"`` (default): the newest messages are kept, the dropped ones
  are counted (right for readbacks and status updates);
* ``"block"``: the reader waits for room (back-pressure on this connector's
  pub/sub; Redis buffers meanwhile).

Subscribing waits for Redis's confirmation (read by the reader task), so a
message published by anyone after ``subscribe`` returns is delivered; without
it a publication racing the SUBSCRIBE on another connection could be lost.

When Redis goes away the reader reconnects with exponential back-off and
resubscribes every channel and pattern by itself, and says so in the log.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bec_core.errors import DecodeError
from bec_core.redis_connector.base import MessageObject
from bec_core.serialization import loads_message

if TYPE_CHECKING:
    from bec_core.redis_connector.async_connector import AsyncRedisConnector

log = logging.getLogger(__name__)

Overflow = Literal["drop_oldest", "block"]
_CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
DEFAULT_QUEUE_SIZE = 10_000
#: how long a new subscription waits for Redis's confirmation before going on without it
#: (it stays registered; a reconnection resubscribes it)
CONFIRM_TIMEOUT_S = 10.0
_CONFIRMATIONS = {"subscribe": False, "psubscribe": True}


async def _as_received(response: Any) -> Any:
    """The push handler of our PubSub connections: the publication as received.

    redis-py's default (RESP3 with hiredis) builds ``"Push response: " + str(response)``
    for a debug log line on every publication, whether or not debug is enabled: for a
    point with 50 devices' readings that is a repr of tens of kilobytes per message.
    """
    return response


class Subscription:
    """A bounded queue of :class:`MessageObject` from one channel or pattern.

    Use as ``async with connector.subscribe(ep) as sub: async for msg in sub: ...``.
    """

    def __init__(
        self,
        dispatcher: PubSubDispatcher,
        name: str,
        is_pattern: bool,
        maxsize: int = DEFAULT_QUEUE_SIZE,
        overflow: Overflow = "drop_oldest",
    ) -> None:
        if overflow not in ("drop_oldest", "block"):
            raise ValueError(f"overflow must be 'drop_oldest' or 'block', not {overflow!r}")
        self.name = name
        self.is_pattern = is_pattern
        self.overflow = overflow
        self.dropped = 0
        self._queue: asyncio.Queue[MessageObject] = asyncio.Queue(maxsize)
        self._dispatcher = dispatcher
        #: called as ``on_undecodable(channel, raw, error)`` for bytes on this channel that do not
        #: decode (plain and quick; it may start a task), e.g. to answer a request's RID anyway
        self.on_undecodable: Callable[[str, bytes, DecodeError], Any] | None = None

    async def offer(self, item: MessageObject) -> None:
        """Queue an item according to the overflow policy."""
        if self.overflow == "block":
            await self._queue.put(item)
            return
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1
                self._dispatcher.connector.stats.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    log.warning(
                        "subscription %s is not keeping up: %d messages dropped", self.name, self.dropped
                    )

    async def get(self, timeout: float | None = None) -> MessageObject:
        """The next message; ``TimeoutError`` after ``timeout`` seconds."""
        if timeout is None:
            return await self._queue.get()
        return await asyncio.wait_for(self._queue.get(), timeout)

    def get_nowait(self) -> MessageObject | None:
        """The next message if one is queued, else ``None``."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def qsize(self) -> int:
        """Messages waiting in the queue."""
        return self._queue.qsize()

    async def __aenter__(self) -> Subscription:
        await self._dispatcher.add(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._dispatcher.remove(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> MessageObject:
        return await self._queue.get()


class InlineSubscription(Subscription):
    """A subscription whose plain (non-async) callback is called as each message arrives.

    A plain callback runs on the event loop's thread wherever it is called, so
    a queue and a task in between would add latency without protecting
    anything; coroutine callbacks (and the sync facade's thread hand-off) get
    a queue and a task of their own instead.
    """

    def __init__(self, *args: Any, cb: Callable[..., Any], kwargs: dict[str, Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.cb, self.kwargs = cb, kwargs

    async def offer(self, item: MessageObject) -> None:
        try:
            self.cb(item, **self.kwargs)
        except Exception as exc:  # a user callback must not kill the subscription
            stats = self._dispatcher.connector.stats
            stats.callback_errors += 1
            stats.note_error(f"callback {self.cb!r} on {item.topic}: {exc!r}")
            log.exception("callback %r failed on %s", self.cb, item.topic)


class CallbackHandle:
    """A registered callback: a subscription plus (for coroutine callbacks) the task that feeds it."""

    def __init__(self, sub: Subscription, cb: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.sub, self.cb, self.kwargs = sub, cb, kwargs
        self.task: asyncio.Task[None] | None = None

    def start(self, stats_owner: AsyncRedisConnector) -> None:
        """Start the task that calls the callback for each queued message."""
        if isinstance(self.sub, InlineSubscription):
            return
        self.task = asyncio.get_running_loop().create_task(
            self._run(stats_owner), name=f"callback:{self.sub.name}:{getattr(self.cb, '__name__', 'cb')}"
        )

    async def _run(self, owner: AsyncRedisConnector) -> None:
        while True:
            item = await self.sub.get()
            try:
                result = self.cb(item, **self.kwargs)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a user callback must not kill the subscription
                owner.stats.callback_errors += 1
                owner.stats.note_error(f"callback {self.cb!r} on {item.topic}: {exc!r}")
                log.exception("callback %r failed on %s", self.cb, item.topic)


class PubSubDispatcher:
    """Owns the connector's PubSub connection, its reader task and its subscriptions."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector
        self._subs: dict[tuple[str, bool], list[Subscription]] = {}
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._has_subs = asyncio.Event()
        #: channels and patterns whose SUBSCRIBE/PSUBSCRIBE Redis has not confirmed yet
        self._unconfirmed: dict[tuple[str, bool], asyncio.Future[None]] = {}
        #: set each time the reader has reconnected and resubscribed (cleared by whoever waits)
        self.reconnected = asyncio.Event()
        #: called (plain) after each reconnection and resubscription
        self.listeners: list[Callable[[], Any]] = []

    @property
    def channels(self) -> list[str]:
        """Subscribed channel names."""
        return [name for (name, pat) in self._subs if not pat]

    @property
    def patterns(self) -> list[str]:
        """Subscribed patterns."""
        return [name for (name, pat) in self._subs if pat]

    async def add(self, sub: Subscription) -> None:
        """Subscribe ``sub`` (SUBSCRIBE/PSUBSCRIBE only for a new channel) and wait until Redis confirms."""
        async with self._lock:
            key = (sub.name, sub.is_pattern)
            first = key not in self._subs
            self._subs.setdefault(key, []).append(sub)
            self._has_subs.set()
            if first:
                try:
                    await self._ensure_pubsub()
                    self._unconfirmed[key] = asyncio.get_running_loop().create_future()
                    if sub.is_pattern:
                        await self._pubsub.psubscribe(sub.name)
                    else:
                        await self._pubsub.subscribe(sub.name)
                except _CONNECTION_ERRORS:
                    # the reader's reconnection resubscribes everything in _subs
                    self._unconfirmed.pop(key, None)
                    log.warning("could not subscribe %s now; it will be subscribed on reconnect", sub.name)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.get_running_loop().create_task(self._read_loop(), name="pubsub-reader")
            confirmed = self._unconfirmed.get(key)
        if confirmed is not None:
            try:
                await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT_S)
            except asyncio.CancelledError:
                await asyncio.shield(self.remove(sub))  # cancelled while subscribing: not left behind
                raise
            except TimeoutError:
                log.warning(
                    "Redis has not confirmed the subscription to %s within %.0f s",
                    sub.name,
                    CONFIRM_TIMEOUT_S,
                )

    def _confirm(self, kind: str, name: bytes | str) -> None:
        """Redis confirmed a SUBSCRIBE/PSUBSCRIBE: release whoever waits for it."""
        future = self._unconfirmed.pop((_text(name), _CONFIRMATIONS[kind]), None)
        if future is not None and not future.done():
            future.set_result(None)

    async def remove(self, sub: Subscription) -> None:
        """Unsubscribe ``sub``; the channel is released when nobody is left on it."""
        async with self._lock:
            key = (sub.name, sub.is_pattern)
            subs = self._subs.get(key, [])
            if sub in subs:
                subs.remove(sub)
            if not subs and key in self._subs:
                del self._subs[key]
                waiter = self._unconfirmed.pop(key, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)  # nobody is left to wait for this channel's confirmation
                if not self._subs:
                    self._has_subs.clear()
                if self._pubsub is not None:
                    try:
                        if sub.is_pattern:
                            await self._pubsub.punsubscribe(sub.name)
                        else:
                            await self._pubsub.unsubscribe(sub.name)
                    except _CONNECTION_ERRORS:
                        pass

    async def _ensure_pubsub(self) -> None:
        if self._pubsub is None:
            self._pubsub = self._new_pubsub()

    def _new_pubsub(self) -> Any:
        return self.connector.pubsub_redis.pubsub(push_handler_func=_as_received)

    async def _read_loop(self) -> None:
        while not self._closed:
            if not self._subs:
                await self._has_subs.wait()
                continue
            try:
                raw = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except (*_CONNECTION_ERRORS, RuntimeError) as exc:
                if self._closed:
                    return
                await self._reconnect(exc)
                continue
            if raw is not None:
                await self._dispatch(raw)

    async def _dispatch(self, raw: dict[str, Any]) -> None:
        kind = raw.get("type")
        if kind in _CONFIRMATIONS:
            self._confirm(kind, raw["channel"])
            return
        if kind == "pmessage":
            key = (_text(raw["pattern"]), True)
        elif kind == "message":
            key = (_text(raw["channel"]), False)
        else:
            return
        subs = self._subs.get(key)
        if not subs:
            return
        channel = _text(raw["channel"])
        try:
            value = loads_message(raw["data"], channel)
        except DecodeError as exc:
            self.connector.stats.decode_errors += 1
            self.connector.stats.note_error(str(exc))
            log.warning("%s (dropped; %d bad messages so far)", exc, self.connector.stats.decode_errors)
            for sub in list(subs):
                if sub.on_undecodable is not None:
                    try:
                        sub.on_undecodable(channel, raw["data"], exc)
                    except Exception:  # a handler must not stop the reader
                        log.exception("undecodable-message handler failed on %s", channel)
            return
        item = MessageObject(topic=channel, value=value)
        for sub in list(subs):
            await sub.offer(item)

    async def _reconnect(self, exc: BaseException) -> None:
        log.warning("lost the pub/sub connection to Redis (%s); reconnecting", exc)
        self.connector.health.failed(exc)
        delay = 0.05
        while not self._closed:
            try:
                old, self._pubsub = self._pubsub, self._new_pubsub()
                if old is not None:
                    try:
                        await old.aclose()
                    except Exception:  # the old connection is dead anyway
                        pass
                async with self._lock:
                    if self.channels:
                        await self._pubsub.subscribe(*self.channels)
                    if self.patterns:
                        await self._pubsub.psubscribe(*self.patterns)
                self.connector.stats.reconnects += 1
                self.connector.health.succeeded()
                self.reconnected.set()
                for listener in list(self.listeners):
                    try:
                        listener()
                    except Exception:  # a listener must not stop the reader
                        log.exception("reconnect listener %r failed", listener)
                log.warning(
                    "reconnected to Redis; resubscribed %d channels and %d patterns",
                    len(self.channels),
                    len(self.patterns),
                )
                return
            except _CONNECTION_ERRORS as error:
                self.connector.health.failed(error)
                await asyncio.sleep(delay)  # back-off between reconnection attempts
                delay = min(delay * 2, 2.0)

    async def close(self) -> None:
        """Stop the reader and close the pub/sub connection."""
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except Exception:
                pass
        self._subs.clear()
        for future in self._unconfirmed.values():
            if not future.done():
                future.set_result(None)  # nobody waits for a closed connector's confirmations
        self._unconfirmed.clear()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
