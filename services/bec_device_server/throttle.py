"""Readback and motion-status publication driven by ophyd events (rate-limited per device)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.direct import DirectBatch
from bec_core.serialization import dumps
from bec_device_server.bridge import on_loop_thread
from bec_device_server.publish import readback_commands

if TYPE_CHECKING:
    from bec_device_server.devices import DeviceEntry

log = logging.getLogger(__name__)


class ReadbackThrottle:
    """Publishes ``device_readback`` on ophyd events, at most ``rate_hz`` per device.

    Events arrive from ophyd threads and are handed to the loop. The first
    event of a quiet period publishes at once; later ones within the period
    schedule one trailing publication that reads the device *then*, so the
    final value of a move is never dropped. A device has one publication in
    flight at a time: events during it schedule the next one when it is done.
    Through a Redis outage a write waits (the pool's retries), and two of them
    racing when Redis is back could leave an older position in the key.
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
        #: devices whose publication is being read or written
        self._in_flight: set[str] = set()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0
        #: motion statuses waiting to be written, in event order, and the last one written per device
        self._statuses: list[tuple[str, int, dict[str, Any]]] = []
        self._status_flush: asyncio.Task[None] | None = None
        self._last_status: dict[str, tuple[int, dict[str, Any]]] = {}
        #: a connection of the publications' own: packed commands, without redis-py's pipeline
        #: layers (a publication while another one is under way goes through the pool)
        self._direct = DirectBatch(connector.redis)

    def attach(self, entry: DeviceEntry) -> None:
        """Subscribe to the device's readback (positioners) or value (signals) events, and to its
        ``motor_is_moving`` signal (``device_status``, as stock)."""
        obj = entry.obj
        self._attach_moving(entry)
        event = getattr(obj, "SUB_READBACK", None) or getattr(obj, "SUB_VALUE", None)
        if event is None or not hasattr(obj, "subscribe"):
            return
        if getattr(obj, "SUB_READBACK", None) is None and getattr(type(obj), "bec_cheap_read", False):
            return  # computed sim signals: every read publishes anyway

        loop = self.loop
        # A signal whose get() reports a value event (ophyd_devices' SimMonitor computes its value
        # on every read): events raised by the server's own reads are left out, their readings are
        # published anyway; otherwise each throttled readback's read would schedule the next one,
        # forever.
        notify = self.notify if event == getattr(obj, "SUB_READBACK", None) else self._notify_unless_reading

        def on_event(*_args: Any, **_kwargs: Any) -> None:
            if on_loop_thread(loop):  # an inline set() or read() of a simulated device
                notify(entry)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(notify, entry)

        token = obj.subscribe(on_event, event_type=event, run=False)
        entry.subscriptions.append((obj, token))

    def _attach_moving(self, entry: DeviceEntry) -> None:
        """SET ``info/devices/status/<name>`` = DeviceStatusMessage(status=motor_is_moving) on each change
        (``run=True`` as stock: ophyd calls back at once only if the signal has reported a value
        before), as stock's device server does for devices with a ``motor_is_moving`` signal."""
        signal = getattr(entry.obj, "motor_is_moving", None)
        if signal is None or not hasattr(signal, "subscribe"):
            return
        loop = self.loop

        def on_moving(*_args: Any, value: Any = None, **_kwargs: Any) -> None:
            try:
                status = int(value)
            except (TypeError, ValueError):
                return
            if on_loop_thread(loop):
                self._status(entry, status)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(self._status, entry, status)

        token = signal.subscribe(on_moving, run=True)
        entry.subscriptions.append((signal, token))

    def _status(self, entry: DeviceEntry, status: int) -> None:
        """Queue a ``device_status`` SET; every status queued in one loop iteration goes out in one
        write. A repeat of the value last queued for the device with the same metadata is left out
        (ophyd_devices' SimPositioner reports each change twice): the key's content would not
        change."""
        metadata = entry.last_metadata
        last = self._last_status.get(entry.name)
        if last is not None and last[0] == status and last[1] is metadata:
            return
        self._last_status[entry.name] = (status, metadata)
        self._statuses.append((entry.name, status, metadata))
        if self._status_flush is None:
            self._status_flush = self.loop.create_task(self._flush_statuses(), name="device-status")

    async def _flush_statuses(self) -> None:
        try:
            while self._statuses:
                batch, self._statuses = self._statuses, []
                await self._publish_statuses(batch)
        finally:
            self._status_flush = None

    async def _publish_statuses(self, batch: list[tuple[str, int, dict[str, Any]]]) -> None:
        """SET each device's newest status of ``batch``: the key holds the state, so a change and
        its undoing within one loop iteration (an instant move: moving, then stopped) is written as
        the state it ended in."""
        newest = {name: (status, metadata) for name, status, metadata in batch}
        commands = [
            (
                "SET",
                MessageEndpoints.device_status(name).endpoint,
                dumps(DeviceStatusMessage(device=name, status=status, metadata=metadata)),
            )
            for name, (status, metadata) in newest.items()
        ]
        try:
            await self._write(commands)
        except Exception as exc:  # a lost status must not stop the next one
            log.warning("device_status of %s not published: %s", ", ".join(newest), exc)

    async def _write(self, commands: list[tuple[str, str, bytes]]) -> None:
        """Run raw commands on the publications' connection; raise the first error reply."""
        for reply in await self._direct.run(commands):
            if isinstance(reply, Exception):
                raise reply

    def detach(self, entry: DeviceEntry) -> None:
        """Drop the device's ophyd subscriptions."""
        for obj, token in entry.subscriptions:
            try:
                obj.unsubscribe(token)
            except Exception:  # already destroyed
                pass
        entry.subscriptions.clear()

    @property
    def busy(self) -> bool:
        """True while a readback or motion-status publication is pending or running."""
        return bool(self._pending or self._tasks or self._statuses or self._status_flush)

    def _notify_unless_reading(self, entry: DeviceEntry) -> None:
        """:meth:`notify`, unless the event came from a read by the server (``entry.reading``; an
        event from a worker thread's read is handed over before that read's result)."""
        if not entry.reading:
            self.notify(entry)

    def notify(self, entry: DeviceEntry) -> None:
        """A readback changed (called on the loop)."""
        name = entry.name
        if name in self._pending:
            return
        self._pending.add(name)
        if name not in self._in_flight:  # else the publication in flight schedules it when done
            self._schedule(entry)

    def _schedule(self, entry: DeviceEntry) -> None:
        delay = self._last.get(entry.name, 0.0) + self.period - time.monotonic()
        if delay <= 0:
            self._start(entry)
        else:
            self.loop.call_later(delay, self._start, entry)

    def _start(self, entry: DeviceEntry) -> None:
        task = self.loop.create_task(self._publish(entry), name=f"readback:{entry.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, entry: DeviceEntry) -> None:
        name = entry.name
        self._pending.discard(name)  # events from now on ask for another publication
        self._last[name] = time.monotonic()
        if not entry.enabled:
            return
        self._in_flight.add(name)
        try:
            signals = await self._read(entry)
            await self._write(readback_commands(name, signals, entry.last_metadata))
            self.published += 1
        except Exception as exc:  # a failing readback must not stop the next one
            log.warning("readback of %s failed: %s", name, exc)
        finally:
            self._in_flight.discard(name)
            if name in self._pending and not self._closed:  # events came while it was read or written
                self._schedule(entry)

    async def close(self) -> None:
        """Cancel pending publications."""
        self._closed = True
        tasks = [*self._tasks, *([self._status_flush] if self._status_flush is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._direct.close()


__all__ = ["ReadbackThrottle"]
