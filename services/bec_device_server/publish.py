"""What the device server writes about devices, always into a caller's pipeline.

Each helper only queues commands on ``pipe``; the caller executes the pipeline,
so the publications of one request cost one round trip. Readings are encoded
once and the same bytes are SET and PUBLISHed on both ``device_read`` and
``device_readback``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.asyncio.client import Pipeline

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AlarmMessage,
    AvailableResourceMessage,
    DeviceInfoMessage,
    DeviceMessage,
    DeviceStatusMessage,
    ErrorInfo,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps

if TYPE_CHECKING:
    from bec_device_server.devices import DeviceEntry

log = logging.getLogger(__name__)

_READ = "info/devices/read/"
_READBACK = "info/devices/readback/"


#: SET and PUBLISH every KEYS[i] with ARGV[i]: one command for any number of readings, where a
#: pipeline of SET+PUBLISH pairs costs redis-py a parsed reply (~25 us) per command.
_SET_PUBLISH_ALL = """
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i])
  redis.call('PUBLISH', key, ARGV[i])
end
return #KEYS
"""


class Readings:
    """Device readings collected for one round trip; :meth:`flush` queues them as one command."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[bytes] = []

    def add(
        self, name: str, signals: dict[str, Any], metadata: dict[str, Any], readback: bool = True
    ) -> None:
        """SET+PUBLISH ``device_read/<name>`` (and ``device_readback/<name>``), encoded once."""
        raw = dumps(DeviceMessage.model_construct(signals=signals, metadata=metadata))
        self.keys.append(_READ + name)
        self.values.append(raw)
        if readback:
            self.keys.append(_READBACK + name)
            self.values.append(raw)

    def flush(self, pipe: Pipeline) -> None:
        """Queue everything collected on ``pipe`` (as one EVAL) and start over."""
        if self.keys:
            pipe.eval(_SET_PUBLISH_ALL, len(self.keys), *self.keys, *self.values)
        self.keys, self.values = [], []


def queue_readback(pipe: Pipeline, name: str, signals: dict[str, Any], metadata: dict[str, Any]) -> None:
    """SET+PUBLISH ``device_readback/<name>`` only."""
    raw = dumps(DeviceMessage.model_construct(signals=signals, metadata=metadata))
    pipe.set(_READBACK + name, raw)
    pipe.publish(_READBACK + name, raw)


async def queue_initial(
    connector: AsyncRedisConnector,
    pipe: Pipeline,
    readings: Readings,
    entry: DeviceEntry,
    read: dict[str, Any] | None,
    read_configuration: dict[str, Any] | None,
    limits: tuple[float, float] | None,
) -> None:
    """device_info, device_read, device_readback, device_read_configuration and device_limits."""
    name = entry.name
    await connector.set(
        MessageEndpoints.device_info(name), DeviceInfoMessage(device=name, info=entry.info), pipe=pipe
    )
    if read is not None:
        readings.add(name, read, {})
    if read_configuration is not None:
        await connector.set_and_publish(
            MessageEndpoints.device_read_configuration(name),
            DeviceMessage(signals=read_configuration),
            pipe=pipe,
        )
    if limits is not None:
        await connector.set_and_publish(
            MessageEndpoints.device_limits(name),
            DeviceMessage(signals={"low": {"value": limits[0]}, "high": {"value": limits[1]}}),
            pipe=pipe,
        )


async def queue_device_config(connector: AsyncRedisConnector, pipe: Pipeline, configs: list[dict]) -> None:
    """``info/devices/config`` = AvailableResourceMessage(resource=[device dicts])."""
    await connector.set(
        MessageEndpoints.device_config(), AvailableResourceMessage(resource=configs), pipe=pipe
    )


async def queue_staged(connector: AsyncRedisConnector, pipe: Pipeline, name: str, staged: bool) -> None:
    """``info/devices/staged/<name>`` = DeviceStatusMessage(status=1|0)."""
    await connector.set(
        MessageEndpoints.device_staged(name), DeviceStatusMessage(device=name, status=int(staged)), pipe=pipe
    )


async def queue_alarm(
    connector: AsyncRedisConnector,
    pipe: Pipeline,
    message: str,
    compact: str,
    exception_type: str,
    device: str | list[str] | None,
    severity: int = 1,
    metadata: dict[str, Any] | None = None,
) -> None:
    """SET+PUBLISH an AlarmMessage on ``user/alarms``."""
    info = ErrorInfo(
        error_message=message, compact_error_message=compact, exception_type=exception_type, device=device
    )
    await connector.set_and_publish(
        MessageEndpoints.alarm(),
        AlarmMessage(severity=severity, info=info, metadata=metadata or {}),
        pipe=pipe,
    )


class ReadbackThrottle:
    """Publishes ``device_readback`` on ophyd events, at most ``rate_hz`` per device.

    Events arrive from ophyd threads and are handed to the loop. The first
    event of a quiet period publishes at once; later ones within the period
    schedule one trailing publication that reads the device *then*, so the
    final value of a move is never dropped.
    """

    def __init__(
        self,
        connector: AsyncRedisConnector,
        loop: asyncio.AbstractEventLoop,
        rate_hz: float,
        read: Callable[[DeviceEntry], Any],
    ) -> None:
        self.connector = connector
        self.loop = loop
        self.period = 1.0 / rate_hz
        self._read = read
        self._last: dict[str, float] = {}
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0

    def attach(self, entry: DeviceEntry) -> None:
        """Subscribe to the device's readback (positioners) or value (signals) events."""
        obj = entry.obj
        event = getattr(obj, "SUB_READBACK", None) or getattr(obj, "SUB_VALUE", None)
        if event is None or not hasattr(obj, "subscribe"):
            return
        if getattr(obj, "SUB_READBACK", None) is None and getattr(type(obj), "bec_cheap_read", False):
            return  # computed sim signals: every read publishes anyway

        def on_event(*_args: Any, **_kwargs: Any) -> None:
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.notify, entry)

        token = obj.subscribe(on_event, event_type=event, run=False)
        entry.subscriptions.append((obj, token))

    def detach(self, entry: DeviceEntry) -> None:
        """Drop the device's ophyd subscriptions."""
        for obj, token in entry.subscriptions:
            try:
                obj.unsubscribe(token)
            except Exception:  # already destroyed
                pass
        entry.subscriptions.clear()

    def notify(self, entry: DeviceEntry) -> None:
        """A readback changed (called on the loop)."""
        name = entry.name
        if name in self._pending:
            return
        self._pending.add(name)
        delay = self._last.get(name, 0.0) + self.period - time.monotonic()
        if delay <= 0:
            self._start(entry)
        else:
            self.loop.call_later(delay, self._start, entry)

    def _start(self, entry: DeviceEntry) -> None:
        task = self.loop.create_task(self._publish(entry), name=f"readback:{entry.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, entry: DeviceEntry) -> None:
        self._pending.discard(entry.name)  # events from now on schedule another publication
        self._last[entry.name] = time.monotonic()
        if not entry.enabled:
            return
        try:
            signals = await self._read(entry)
            pipe = self.connector.pipeline()
            queue_readback(pipe, entry.name, signals, entry.last_metadata)
            await pipe.execute()
            self.published += 1
        except Exception as exc:  # a failing readback must not stop the next one
            log.warning("readback of %s failed: %s", entry.name, exc)

    async def close(self) -> None:
        """Cancel pending publications."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


__all__ = [
    "ReadbackThrottle",
    "Readings",
    "queue_alarm",
    "queue_device_config",
    "queue_initial",
    "queue_readback",
    "queue_staged",
]
