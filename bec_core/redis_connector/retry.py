"""Riding out Redis outages: a deadline-based asyncio retry and the connector's view of Redis health.

redis-py's asyncio client needs :class:`redis.asyncio.retry.Retry` (the
synchronous ``redis.retry.Retry`` returns the coroutine un-awaited, so nothing
is ever retried). :class:`OutageRetry` retries a command that failed with a
connection error, with exponential back-off, until Redis answers again or the
outage has lasted ``outage_timeout`` seconds; then the error is raised.

Every retry object of one connector shares a :class:`RedisHealth`: when Redis
went away, for how long, and an event for its return. Waits above the
connector (a reply deadline, a device-server heartbeat) consult it, so that a
Redis outage is reported as one, and not as a silent peer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, MaxConnectionsError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bec_core.errors import ConnectorError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: default for how long a command waits for Redis to come back (issue 11: at least 60 s)
DEFAULT_OUTAGE_TIMEOUT = 60.0
#: connection errors that waiting does not cure
_FINAL = (AuthenticationError, MaxConnectionsError)


class RedisUnavailableError(ConnectorError):
    """Redis did not come back within the outage deadline; the text says for how long."""


class RedisHealth:
    """Whether Redis answers, as seen by one connector (monotonic clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.down_since: float | None = None
        self.ever_up = False
        """True once Redis has answered: only then is a failure an outage worth riding out."""
        self.last_outage: tuple[float, float] | None = None
        self.outages = 0
        self._up = asyncio.Event()
        self._up.set()
        self._listeners: list[Callable[[], Any]] = []

    @property
    def down(self) -> bool:
        """True while the last thing tried against Redis failed."""
        return self.down_since is not None

    def failed(self, exc: BaseException | None = None) -> None:
        """Record a failed attempt (the outage starts at the first one)."""
        if self.down_since is None:
            self.down_since = self.clock()
            self.outages += 1
            self._up.clear()
            log.warning("Redis unavailable (%s); retrying", exc)

    def succeeded(self) -> None:
        """Record that Redis answered; ends an outage."""
        if self.down_since is None:
            return
        now = self.clock()
        self.last_outage = (self.down_since, now)
        log.warning("Redis answers again after %.1f s", now - self.down_since)
        self.down_since = None
        self._up.set()
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # a listener must not break the connector
                log.exception("Redis-recovered listener failed")

    def on_recovered(self, listener: Callable[[], Any]) -> None:
        """Call ``listener()`` (plain, quick) each time an outage ends."""
        self._listeners.append(listener)

    def unavailable_for(self) -> float:
        """Seconds the current outage has lasted (0 when Redis answers)."""
        return 0.0 if self.down_since is None else self.clock() - self.down_since

    def recently_down(self, within: float) -> bool:
        """True if Redis is down, or an outage ended less than ``within`` seconds ago."""
        if self.down_since is not None:
            return True
        return self.last_outage is not None and self.clock() - self.last_outage[1] < within

    def last_outage_s(self) -> float:
        """Length of the current outage, else of the last one (0 if none)."""
        if self.down_since is not None:
            return self.unavailable_for()
        return 0.0 if self.last_outage is None else self.last_outage[1] - self.last_outage[0]

    async def wait_up(self, timeout: float) -> bool:
        """Wait until Redis answers again; False after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
            return True
        except TimeoutError:
            return False


class OutageRetry(Retry):
    """Retry on connection errors with back-off until ``outage_timeout`` seconds have passed.

    Deep copies (redis-py copies the retry into each connection) share ``health``.
    """

    def __init__(
        self,
        health: RedisHealth,
        outage_timeout: float = DEFAULT_OUTAGE_TIMEOUT,
        backoff: ExponentialBackoff | None = None,
    ) -> None:
        # The count is only redis-py's bookkeeping: the deadline is what ends the retries.
        super().__init__(backoff or ExponentialBackoff(cap=1.0, base=0.05), 1_000_000)
        self.health = health
        self.outage_timeout = outage_timeout
        self.update_supported_errors([RedisConnectionError, RedisTimeoutError, ConnectionError, OSError])  # type: ignore[list-item]

    def __deepcopy__(self, memo: dict[int, Any]) -> OutageRetry:
        copy = OutageRetry(self.health, self.outage_timeout, ExponentialBackoff(cap=1.0, base=0.05))
        copy._supported_errors = self._supported_errors
        return copy

    async def call_with_retry(  # type: ignore[override]
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Run ``do()``; on a connection error call ``fail``, back off and try again until the deadline."""
        failures = 0
        started: float | None = None
        health = self.health
        while True:
            try:
                result = await do()
            except self._supported_errors as error:
                if isinstance(error, _FINAL) or (is_retryable and not is_retryable(error)):
                    raise
                if not health.ever_up:
                    raise  # never reached: nothing to ride out, the caller says Redis is not there
                failures += 1
                health.failed(error)
                now = time.monotonic()
                if started is None:
                    started = now
                if with_failure_count:
                    await fail(error, failures)
                else:
                    await fail(error)
                if now - started >= self.outage_timeout:
                    raise
                await asyncio.sleep(min(self._backoff.compute(failures), 1.0))
                continue
            health.ever_up = True
            if health.down_since is not None:
                health.succeeded()
            return result


__all__ = ["DEFAULT_OUTAGE_TIMEOUT", "OutageRetry", "RedisHealth", "RedisUnavailableError"]
