"""Detector data paths: ophyd_devices' BEC message signals published on stock BEC's endpoints.

``ophyd_devices.utils.bec_signals`` signals carry a bec_lib message as their value; stock's
device server subscribes to every one of a device (``walk_signals``) and publishes it:

==================  =================================================================  ==============
signal              endpoint(s), operation                                             message
==================  =================================================================  ==============
PreviewSignal       ``info/devices/preview/<dev>/<signal>`` STREAM, maxlen             DevicePreview
                    ``min(100, 1000 MB / frame size)``, EX 3600; frames > 1000 MB are
                    dropped
ProgressSignal      ``info/devices/progress/<dev>`` SET+PUBLISH EX 3600, metadata      Progress
                    gets the current ``scan_id`` and ``status``
FileEventSignal     ``info/public/file_event/<dev>`` and                               File
                    ``info/public/<scan_id>/file/<dev>`` SET+PUBLISH EX 3600
DynamicSignal       ``info/devices/async_signal/<scan_id>/<dev>/<signal>`` STREAM       Device
(AsyncSignal,       (field ``data``, maxlen ``signal_metadata.max_size`` (1000), EX
AsyncMultiSignal)   ``expire`` (600)); metadata ``async_indices`` counts each
                    sub-signal per scan from 0; plus RPUSH of a
                    DeviceAsyncSignalIndexMessage on ``info/devices/async_signal_index/
                    <scan_id>/<dev>/<signal>`` (EX 3600). Only while a scan is running.
==================  =================================================================  ==============

How it runs here: the ophyd callback (a device thread) encodes the message with bec_lib's
codec (the device made a bec_lib message; the bytes are the wire format our codec speaks)
and queues the Redis commands; one task on the loop writes what is queued in one pipeline,
then waits ``1 / rate_hz`` before the next batch. Previews and progress are *coalesced*
per key (a newer frame replaces an unsent one, so the last value is always published and a
fast camera cannot flood Redis or the loop); async data and file events are never
coalesced and are kept in order in a bounded queue (the oldest dropped and counted when
full). Nothing here runs in the point loop: a device's ``put`` only appends to a queue.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bec_core.endpoints import MessageEndpoints
from bec_device_server.bridge import on_loop_thread

log = logging.getLogger(__name__)

#: stock's largest preview frame (MB) and longest preview stream
PREVIEW_MAX_MB = 1000.0
PREVIEW_MAX_LEN = 100
#: scan states in which stock refuses async data
_CLOSED = frozenset({"closed", "aborted", "halted", "user_completed"})

Command = tuple[Any, ...]


@dataclass
class PublisherStats:
    """What the publisher did (for logs and tests)."""

    published: int = 0  #: batches written
    coalesced: int = 0  #: previews/progress replaced by a newer one before they were sent
    dropped: int = 0  #: async/file items dropped because the queue was full
    refused: int = 0  #: messages not published (no scan, wrong type, too large)
    errors: int = 0  #: failed Redis writes


@dataclass
class _AsyncIndex:
    scan_id: str
    indices: dict[str, int] = field(default_factory=dict)


class BECSignalPublisher:
    """Publishes the BEC message signals of attached devices (see the module docstring)."""

    def __init__(
        self,
        redis: Any,
        loop: asyncio.AbstractEventLoop,
        scan_info: Any,
        rate_hz: float = 20.0,
        max_queued: int = 10_000,
    ) -> None:
        """``redis``: a redis-py asyncio client; ``scan_info``: an object whose ``.msg`` is the
        current scan's bec_lib ScanStatusMessage (or None)."""
        self.redis = redis
        self.loop = loop
        self.scan_info = scan_info
        self.period = 1.0 / rate_hz
        self.stats = PublisherStats()
        self._lock = threading.Lock()
        self._latest: dict[str, list[Command]] = {}
        self._ordered: deque[list[Command]] = deque()
        self._max_queued = max_queued
        self._indices: dict[tuple[str, str], _AsyncIndex] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------------ wiring
    def start(self) -> None:
        """Start the writer task (on the running loop)."""
        if self._task is None:
            self._task = self.loop.create_task(self._run(), name="bec-signals-writer")

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        if self._task is None:
            return
        await self.flush()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    def attach(self, entry: Any) -> int:
        """Subscribe to every BEC message signal of the entry's device; returns how many.

        The subscriptions go to ``entry.subscriptions`` (dropped with the readback ones).
        """
        obj = entry.obj
        if obj is None or not hasattr(obj, "walk_signals"):
            return 0
        try:
            from ophyd_devices.utils.bec_signals import BECMessageSignal
        except ImportError:
            return 0
        count = 0
        for _ancestor, _name, signal in obj.walk_signals():
            if isinstance(signal, BECMessageSignal):
                token = signal.subscribe(self._callback, run=False)
                entry.subscriptions.append((signal, token))
                count += 1
        return count

    # ------------------------------------------------------------------ device threads
    def _callback(self, *_args: Any, obj: Any = None, value: Any = None, **_kwargs: Any) -> None:
        """ophyd's value callback of a BEC message signal (any thread)."""
        try:
            self.emit(obj, value)
        except Exception as exc:  # a bad message must not break the device's put()
            self.stats.refused += 1
            log.warning("%s: BEC signal message not published: %s", getattr(obj, "name", obj), exc)

    def emit(self, signal: Any, message: Any) -> None:
        """Queue the Redis commands for ``message`` of ``signal`` (thread-safe, never blocks)."""
        from bec_lib import messages as bm
        from ophyd_devices.utils import bec_signals as bms

        if not isinstance(message, bm.BECMessage) or not getattr(signal, "connected", True):
            return
        device = signal.root.name
        if isinstance(signal, bms.FileEventSignal):
            self._file_event(device, message, bm)
        elif isinstance(signal, bms.ProgressSignal):
            self._progress(device, message, bm)
        elif isinstance(signal, bms.PreviewSignal):
            self._preview(device, message, bm)
        elif isinstance(signal, bms.DynamicSignal):
            self._async(signal, device, message, bm)
        else:
            raise TypeError(f"unsupported BEC signal type {type(signal).__name__}")

    def _scan(self) -> Any:
        return getattr(self.scan_info, "msg", None)

    def _file_event(self, device: str, message: Any, bm: Any) -> None:
        if not isinstance(message, bm.FileMessage):
            raise TypeError(f"expected FileMessage, got {type(message).__name__}")
        scan = self._scan()
        if scan is None or scan.scan_id is None:
            self._refuse(device, "file event outside a scan")
            return
        raw = _dumps(message)
        self._queue_ordered(
            [
                ("setpub", MessageEndpoints.file_event(device).endpoint, raw, 3600),
                ("setpub", MessageEndpoints.public_file(scan.scan_id, device).endpoint, raw, 3600),
            ]
        )

    def _progress(self, device: str, message: Any, bm: Any) -> None:
        if not isinstance(message, bm.ProgressMessage):
            raise TypeError(f"expected ProgressMessage, got {type(message).__name__}")
        scan = self._scan()
        if scan is None:
            self._refuse(device, "progress outside a scan")
            return
        message.metadata = {**(message.metadata or {}), "scan_id": scan.scan_id, "status": scan.status}
        key = MessageEndpoints.device_progress(device).endpoint
        self._queue_latest(key, [("setpub", key, _dumps(message), 3600)])

    def _preview(self, device: str, message: Any, bm: Any) -> None:
        if not isinstance(message, bm.DevicePreviewMessage):
            raise TypeError(f"expected DevicePreviewMessage, got {type(message).__name__}")
        size_mb = np.asarray(message.data).nbytes / 1e6
        if size_mb > PREVIEW_MAX_MB:
            self._refuse(device, f"preview frame of {size_mb:.0f} MB is over {PREVIEW_MAX_MB:.0f} MB")
            return
        maxlen = min(PREVIEW_MAX_LEN, int(PREVIEW_MAX_MB // size_mb)) if size_mb > 0 else PREVIEW_MAX_LEN
        key = MessageEndpoints.device_preview(device, message.signal).endpoint
        self._queue_latest(key, [("xadd", key, _dumps(message), max(1, maxlen), 3600)])

    def _async(self, signal: Any, device: str, message: Any, bm: Any) -> None:
        if not isinstance(message, bm.DeviceMessage):
            raise TypeError(f"expected DeviceMessage, got {type(message).__name__}")
        scan = self._scan()
        status = None if scan is None else scan.status
        if scan is None or scan.scan_id is None or status is None or status in _CLOSED:
            self._refuse(device, f"async signal {signal.name} while the scan is {status}")
            return
        meta = signal.signal_metadata
        if meta is None:
            self._refuse(device, f"async signal {signal.name} has no signal metadata")
            return
        with self._lock:
            state = self._indices.get((device, signal.name))
            if state is None or state.scan_id != scan.scan_id:
                state = self._indices[(device, signal.name)] = _AsyncIndex(scan.scan_id)
            indices = {}
            for name in message.signals:
                state.indices[name] = indices[name] = state.indices.get(name, -1) + 1
        message.metadata["async_indices"] = indices
        index = bm.DeviceAsyncSignalIndexMessage(
            scan_id=scan.scan_id,
            device=device,
            signal=signal.name,
            shapes={n: list(np.shape(d["value"])) for n, d in message.signals.items()},
            indices=indices,
            async_update=bm.DeviceAsyncUpdate.model_validate(message.metadata["async_update"]),
        )
        stream = MessageEndpoints.device_async_signal(scan.scan_id, device, signal.name).endpoint
        index_key = f"info/devices/async_signal_index/{scan.scan_id}/{device}/{signal.name}"
        maxlen, expire = int(meta.get("max_size", 1000)), int(meta.get("expire", 600))
        self._queue_ordered(
            [
                ("xadd", stream, _dumps(message), maxlen, expire),
                ("rpush", index_key, _dumps(index), 3600),
            ]
        )

    def _refuse(self, device: str, why: str) -> None:
        self.stats.refused += 1
        log.debug("%s: not published: %s", device, why)

    def _queue_latest(self, key: str, commands: list[Command]) -> None:
        with self._lock:
            if key in self._latest:
                self.stats.coalesced += 1
            self._latest[key] = commands
        self._notify()

    def _queue_ordered(self, commands: list[Command]) -> None:
        with self._lock:
            if len(self._ordered) >= self._max_queued:
                self._ordered.popleft()
                self.stats.dropped += 1
            self._ordered.append(commands)
        self._notify()

    def _notify(self) -> None:
        if on_loop_thread(self.loop):
            self._wake_up()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake_up)

    def _wake_up(self) -> None:
        self._idle.clear()
        self._wake.set()

    # ------------------------------------------------------------------ the loop
    def _take(self) -> list[Command]:
        with self._lock:
            batch = [c for item in self._ordered for c in item]
            batch += [c for item in self._latest.values() for c in item]
            self._ordered.clear()
            self._latest.clear()
        return batch

    async def _write(self, batch: list[Command]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for command in batch:
            op, key, raw = command[:3]
            if op == "xadd":
                pipe.xadd(key, {"data": raw}, maxlen=command[3], approximate=True)
                pipe.expire(key, command[4])
            elif op == "setpub":
                pipe.set(key, raw, ex=command[3])
                pipe.publish(key, raw)
            else:  # rpush
                pipe.rpush(key, raw)
                pipe.expire(key, command[3])
        await pipe.execute()
        self.stats.published += 1

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch = self._take()
            if batch:
                try:
                    await self._write(batch)
                except Exception as exc:  # Redis away: log, keep serving; newer values follow
                    self.stats.errors += 1
                    log.warning("BEC signal data not written (%d commands): %s", len(batch), exc)
            if not self._wake.is_set():
                self._idle.set()
            await asyncio.sleep(self.period)  # the rate limit: previews coalesce meanwhile

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is written (or ``timeout`` s passed)."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("BEC signal data not flushed within %g s", timeout)


def _dumps(message: Any) -> bytes:
    """A bec_lib message in the wire format (bec_lib's codec; ours reads the same bytes)."""
    from bec_lib.serialization import MsgpackSerialization

    return MsgpackSerialization.dumps(message)  # type: ignore[no-any-return]


__all__ = ["BECSignalPublisher", "PublisherStats"]
