"""``RedisConnector``: the synchronous facade for scripts and IPython.

Same method names as the async connector (and as bec_lib's). An event loop
runs in a background thread and owns the :class:`AsyncRedisConnector`; each
call is handed to it and waited for. Callbacks run in one callback thread, in
arrival order, never in the caller's thread and never in the reader.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import queue
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from bec_core.endpoints import EndpointInfo
from bec_core.errors import RedisNoAnswerError
from bec_core.redis_connector.async_connector import AsyncRedisConnector
from bec_core.redis_connector.base import ConnectorStats, MessageObject, Topic

T = TypeVar("T")
log = logging.getLogger(__name__)
CALLBACK_QUEUE_SIZE = 100_000


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop where uvloop is installed, else the default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class RedisConnector:
    """Synchronous connector: ``RedisConnector("localhost:6379")``.

    Args:
        bootstrap: ``"host:port"``, a list whose first item is used (BEC's form),
            or a redis://, rediss:// or unix:// URL.
        **kwargs: passed to :class:`AsyncRedisConnector` (``username``, ``password``, ...).
    """

    def __init__(
        self, bootstrap: str | list[str] = "localhost:6379", *, timeout: float = 30.0, **kwargs: Any
    ) -> None:
        address = bootstrap[0] if isinstance(bootstrap, list) else bootstrap
        self.timeout = timeout
        # during a Redis outage a call waits (retrying) up to its own deadline, then raises
        kwargs.setdefault("outage_timeout", timeout)
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bec-connector-loop", daemon=True)
        self._thread.start()
        # One callback thread fed by one queue: callbacks of every subscription run in the
        # order their messages arrived, and never in the reader.
        self._callback_queue: queue.Queue[tuple[Callable[..., Any], MessageObject, dict] | None] = (
            queue.Queue(CALLBACK_QUEUE_SIZE)
        )
        self._callback_thread = threading.Thread(
            target=self._run_callbacks, name="bec-connector-callbacks", daemon=True
        )
        self._callback_thread.start()
        self._closed = False
        self._async: AsyncRedisConnector = self._call(self._make(address, kwargs))

    @staticmethod
    async def _make(address: str, kwargs: dict[str, Any]) -> AsyncRedisConnector:
        return AsyncRedisConnector(address, **kwargs)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this RedisConnector has been shut down")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout if timeout is not None else self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise RedisNoAnswerError(f"Redis did not answer within {timeout or self.timeout} s") from None

    @property
    def async_connector(self) -> AsyncRedisConnector:
        """The asyncio connector underneath (runs in the background loop)."""
        return self._async

    @property
    def stats(self) -> ConnectorStats:
        """Counters: decode errors, dropped messages, reconnects, callback errors."""
        return self._async.stats

    @property
    def url(self) -> str:
        """The Redis URL this connector talks to."""
        return self._async.url

    # --------------------------------------------------------------- pass-through
    def ping(self) -> bool:
        """True if Redis answers."""
        return self._call(self._async.ping())

    def connect(self) -> RedisConnector:
        """Check that Redis answers and accepts the credentials (raises ConnectorError)."""
        self._call(self._async.connect())
        return self

    def get(self, topic: Topic) -> Any:
        """The stored message, or for a pattern endpoint the newest among the matches."""
        return self._call(self._async.get(topic))

    def mget(self, topics: Iterable[Topic]) -> list[Any]:
        """Several keys in one round trip."""
        return self._call(self._async.mget(list(topics)))

    def set(self, topic: Topic, msg: Any, pipe: Any = None, expire: float | None = None) -> None:
        """``SET`` the message (KEY_VALUE endpoints)."""
        return self._call(self._async.set(topic, msg, pipe=pipe, expire=expire))

    def set_and_publish(self, topic: Topic, msg: Any, pipe: Any = None, expire: float | None = None) -> None:
        """``SET`` + ``PUBLISH`` in one round trip (SET_PUBLISH endpoints)."""
        return self._call(self._async.set_and_publish(topic, msg, pipe=pipe, expire=expire))

    def send(self, topic: Topic, msg: Any, pipe: Any = None) -> None:
        """``PUBLISH`` the message (SEND endpoints)."""
        return self._call(self._async.send(topic, msg, pipe=pipe))

    def raw_send(self, channel: str, data: bytes | str) -> int:
        """Publish bytes unvalidated."""
        return self._call(self._async.raw_send(channel, data))

    def delete(self, topic: Topic, pipe: Any = None) -> None:
        """``DEL`` the key."""
        return self._call(self._async.delete(topic, pipe=pipe))

    def keys(self, topic: Topic) -> list[str]:
        """Matching keys (found with SCAN)."""
        return self._call(self._async.keys(topic))

    def lpush(
        self,
        topic: Topic,
        msg: Any,
        pipe: Any = None,
        max_size: int | None = None,
        expire: float | None = None,
    ) -> None:
        """Push to the head of a list."""
        return self._call(self._async.lpush(topic, msg, pipe=pipe, max_size=max_size, expire=expire))

    def rpush(
        self,
        topic: Topic,
        msg: Any,
        pipe: Any = None,
        max_size: int | None = None,
        expire: float | None = None,
    ) -> None:
        """Push to the tail of a list."""
        return self._call(self._async.rpush(topic, msg, pipe=pipe, max_size=max_size, expire=expire))

    def lrange(self, topic: Topic, start: int, end: int) -> list[Any]:
        """Decoded list entries."""
        return self._call(self._async.lrange(topic, start, end))

    def llen(self, topic: Topic) -> int:
        """Length of a list."""
        return self._call(self._async.llen(topic))

    def ltrim(self, topic: Topic, start: int, end: int, pipe: Any = None) -> None:
        """Trim a list."""
        return self._call(self._async.ltrim(topic, start, end, pipe=pipe))

    def lrem(self, topic: Topic, count: int, msg: Any, pipe: Any = None) -> None:
        """Remove entries equal to ``msg``."""
        return self._call(self._async.lrem(topic, count, msg, pipe=pipe))

    def blocking_list_pop(self, topic: Topic, side: str = "LEFT", timeout_s: float | None = None) -> Any:
        """Pop one entry, waiting up to ``timeout_s``."""
        wait = None if timeout_s is None else timeout_s + self.timeout
        return self._call(self._async.blocking_list_pop(topic, side, timeout_s), timeout=wait)  # type: ignore[arg-type]

    def xadd(
        self,
        topic: Topic,
        msg_dict: dict[str, Any],
        max_size: int | None = None,
        pipe: Any = None,
        expire: float | None = None,
        approximate: bool = True,
    ) -> Any:
        """Append a stream entry."""
        return self._call(
            self._async.xadd(
                topic, msg_dict, max_size=max_size, expire=expire, approximate=approximate, pipe=pipe
            )
        )

    def xrange(self, topic: Topic, min: str = "-", max: str = "+", count: int | None = None) -> list[dict]:
        """Stream entries between two ids."""
        return self._call(self._async.xrange(topic, min, max, count))

    def xread(
        self,
        topic: Topic,
        id: str | None = None,
        count: int | None = None,
        block: int | None = None,
        from_start: bool = False,
    ) -> list[dict] | None:
        """Stateful stream read (see the async connector)."""
        wait = None if block is None else block / 1000 + self.timeout
        return self._call(self._async.xread(topic, id, count, block, from_start), timeout=wait)

    def get_last(self, topic: Topic, key: str | None = "data", count: int = 1) -> Any:
        """The newest stream entry (or field)."""
        return self._call(self._async.get_last(topic, key, count))

    def pipeline(self) -> Any:
        """A pipeline to pass as ``pipe=``; run it with :meth:`execute_pipeline`."""
        return self._async.pipeline()

    def execute_pipeline(self, pipe: Any) -> list[Any]:
        """Run a pipeline in one round trip."""
        return self._call(self._async.execute_pipeline(pipe))

    # --------------------------------------------------------------- subscriptions
    def register(
        self,
        topics: Topic | Iterable[Topic] | None = None,
        patterns: Any = None,
        cb: Callable[..., Any] | None = None,
        start_thread: bool = True,
        from_start: bool = False,
        newest_only: bool = False,
        **kwargs: Any,
    ) -> None:
        """Call ``cb(MessageObject, **kwargs)`` for every message (bec_lib's signature).

        ``cb`` runs in the connector's callback thread.
        """
        if cb is None:
            raise TypeError("register() needs a callback: register(endpoint, cb=my_callback)")
        targets: list[Topic] = []
        for group in (topics, patterns):
            if group is None:
                continue
            targets.extend([group] if isinstance(group, (EndpointInfo, str)) else list(group))
        self._call(
            self._async.register(
                targets, self._threaded(cb), from_start=from_start, newest_only=newest_only, **kwargs
            )
        )

    def register_stream(self, topics: Topic | Iterable[Topic], cb: Callable[..., Any], **kwargs: Any) -> None:
        """Follow stream endpoint(s) with a callback."""
        self.register(topics, cb=cb, **kwargs)

    def subscribe(self, topic: Topic | Iterable[Topic], cb: Callable[..., Any], **kwargs: Any) -> None:
        """The seed's form: ``connector.subscribe(MessageEndpoints.scan_segment(), my_cb)``."""
        self.register(topic, cb=cb, **kwargs)

    def unregister(
        self,
        topics: Topic | Iterable[Topic] | None = None,
        patterns: Any = None,
        cb: Callable[..., Any] | None = None,
    ) -> None:
        """Remove callbacks (all on a topic, or one)."""
        targets: list[Topic | None] = []
        for group in (topics, patterns):
            if group is not None:
                targets.extend([group] if isinstance(group, (EndpointInfo, str)) else list(group))
        for target in targets or [None]:
            self._call(self._unregister(target, cb))

    async def _unregister(self, topic: Topic | None, cb: Callable[..., Any] | None) -> None:
        for handle in list(self._async._callbacks):
            wrapped = getattr(handle.cb, "__wrapped__", None)
            if cb is None or wrapped == cb:
                if topic is None or handle.sub.name == (
                    topic.endpoint if isinstance(topic, EndpointInfo) else topic
                ):
                    await self._async.unregister(handle.sub.name, handle.cb)

    def _threaded(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``cb`` so the reader only queues the call for the callback thread."""
        pending = self._callback_queue

        @functools.wraps(cb)
        def hand_to_callback_thread(msg: MessageObject, **kwargs: Any) -> None:
            try:
                pending.put_nowait((cb, msg, kwargs))
            except queue.Full:
                self._async.stats.dropped += 1
                if self._async.stats.dropped % 1000 == 1:
                    log.warning(
                        "callbacks are not keeping up: %d messages dropped", self._async.stats.dropped
                    )

        return hand_to_callback_thread

    def _run_callbacks(self) -> None:
        while True:
            item = self._callback_queue.get()
            if item is None:
                return
            cb, msg, kwargs = item
            try:
                cb(msg, **kwargs)
            except Exception as exc:  # a user callback must not stop the others
                self._async.stats.callback_errors += 1
                self._async.stats.note_error(f"callback {cb!r} on {msg.topic}: {exc!r}")
                log.exception("callback %r failed on %s", cb, msg.topic)

    # --------------------------------------------------------------- shutdown
    def shutdown(self) -> None:
        """Close connections and stop the background threads (idempotent)."""
        if self._closed:
            return
        try:
            self._call(self._async.close(), timeout=5.0)
        except Exception:  # shutting down: the loop may already be unusable
            pass
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        try:
            self._callback_queue.put_nowait(None)
        except queue.Full:
            pass
        if threading.current_thread() is not self._callback_thread:
            self._callback_thread.join(timeout=5.0)

    close = shutdown

    def __enter__(self) -> RedisConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
