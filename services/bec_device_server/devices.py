"""The devices the server owns: construction, per-device state and locks.

Construction (import, ``__init__``, ``wait_for_connection``, the first
``read()``/``describe()``) is blocking ophyd work, so :func:`build_device` runs in
the server's bounded thread pool; :meth:`DeviceManager.build` runs many of them
concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections import deque
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bec_device_server.bridge import guarded
from bec_device_server.build import Built, build_device, build_order, call_policy
from bec_device_server.config import DeviceConfig
from bec_device_server.errors import DeviceConnectionError
from bec_device_server.facade import DeviceManagerFacade
from bec_device_server.resolve import resolve_device_class
from bec_device_server.startup import release_frozen

log = logging.getLogger(__name__)


class DeviceLock:
    """The FIFO lock of one device's actions (``asyncio.Lock`` semantics), also takeable without
    awaiting when free: a point locks every device it involves, so with many devices the
    coroutine of each ``asyncio.Lock.acquire()`` was a measurable part of its cost.

    ``release()`` hands the lock straight to the first waiter, so a free lock never has one.
    """

    __slots__ = ("_locked", "_waiters")

    def __init__(self) -> None:
        self._locked = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        """True while held."""
        return self._locked

    def try_acquire(self) -> bool:
        """Take the lock if it is free (without waiting); True if taken."""
        if self._locked:
            return False
        self._locked = True
        return True

    async def acquire(self) -> bool:
        """Take the lock, after every earlier waiter."""
        if not self._locked:
            self._locked = True
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise
        return True

    def release(self) -> None:
        """Give the lock to the next waiter, or free it."""
        if not self._locked:
            raise RuntimeError("DeviceLock is not acquired")
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the waiter owns the lock now
                return
        self._locked = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()


@dataclass(eq=False)
class DeviceEntry:
    """A configured device and its runtime state (``obj`` is None when disabled or failed)."""

    config: DeviceConfig
    obj: Any = None
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    lock: DeviceLock = field(default_factory=DeviceLock)
    staged: bool = False
    cheap: bool = False  # read() may run on the event loop (class attribute bec_cheap_read)
    #: set()/trigger()/stage()/unstage() and on_scan_open may run on the event loop
    #: (class attribute bec_inline_calls)
    inline: bool = False
    last_read: dict[str, Any] | None = None
    #: reads by the server in progress (their readings are published): value events they raise
    #: do not schedule another readback (throttle.py)
    reading: int = 0
    last_config: dict[str, Any] | None = None
    last_metadata: dict[str, Any] = field(default_factory=dict)
    subscriptions: list[tuple[Any, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The device name."""
        return self.config.name

    @property
    def enabled(self) -> bool:
        """Configured enabled and successfully built."""
        return self.config.enabled and self.obj is not None


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(full text with traceback, one line) of an exception."""
    full = "".join(traceback.format_exception(exc)).strip()
    return full, f"{type(exc).__name__}: {exc}".splitlines()[0]


class DeviceManager:
    """All devices of the server by name, with the thread pool their blocking calls run in."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        allowed_modules: Iterable[str],
        redis_url: str = "127.0.0.1:6379",
        credentials: tuple[str, str] | None = None,
        redis_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.executor = executor
        self.allowed_modules = list(allowed_modules)
        self.entries: dict[str, DeviceEntry] = {}
        #: devices built for a change that is not installed yet (visible to devices built after them)
        self.pending: dict[str, DeviceEntry] = {}
        self.facade = DeviceManagerFacade(self, redis_url, credentials, redis_kwargs)

    # ------------------------------------------------------------------ construction
    async def build(
        self, configs: Iterable[DeviceConfig], timeout: float
    ) -> tuple[dict[str, tuple[DeviceEntry, Built | None]], dict[str, BaseException]]:
        """Build every enabled device (layer by layer, see :func:`build_order`, each layer
        concurrently); disabled ones get an entry without object.

        Returns the new entries (with their first readings) and the failures by name.
        The entries are *not* installed; :meth:`install` does that.
        """
        loop = asyncio.get_running_loop()
        configs = list(configs)
        built: dict[str, tuple[DeviceEntry, Built | None]] = {}
        failures: dict[str, BaseException] = {}
        classes: dict[str, type] = {}
        for cfg in configs:
            if not cfg.enabled:
                continue
            try:
                classes[cfg.name] = resolve_device_class(cfg.deviceClass, self.allowed_modules)
            except Exception as exc:
                failures[cfg.name] = exc

        async def one(cfg: DeviceConfig) -> None:
            job = self.executor.submit(guarded, build_device, cfg, classes[cfg.name], self.facade)
            try:
                waiting = asyncio.wrap_future(job, loop=loop)
                result = await asyncio.wait_for(waiting, timeout + cfg.connectionTimeout)
            except TimeoutError:
                job.add_done_callback(_destroy_late)
                failures[cfg.name] = DeviceConnectionError(
                    f"{cfg.name}: construction did not finish within {timeout + cfg.connectionTimeout:g} s"
                )
                return
            except asyncio.CancelledError:  # a cancelled config request: the thread still builds it
                job.add_done_callback(_destroy_late)
                raise
            except Exception as exc:
                failures[cfg.name] = exc
                return
            entry = DeviceEntry(config=cfg, obj=result.obj, info=result.info)
            entry.cheap, entry.inline = call_policy(type(result.obj))
            entry.last_read = result.read
            built[cfg.name] = (entry, result)
            self.pending[cfg.name] = entry

        try:
            layers = build_order([c for c in configs if c.name in classes], classes)
            for layer in layers:
                await asyncio.gather(*(one(c) for c in layer))
        except asyncio.CancelledError:
            for entry, _ in built.values():  # built for a change that will not be installed
                if entry.obj is not None:
                    self.executor.submit(_destroy, entry.obj)
                    entry.obj = None
            raise
        finally:
            for cfg in configs:
                self.pending.pop(cfg.name, None)
        for cfg in configs:
            if not cfg.enabled:
                built[cfg.name] = (DeviceEntry(config=cfg), None)
            elif cfg.name in failures:
                _, short = describe_exception(failures[cfg.name])
                if isinstance(failures[cfg.name], DeviceConnectionError):
                    # kept, disabled, as stock does (a later update may enable it again); its text
                    # names the device already: "failed to initialise: ConfigError: ..."
                    cfg = cfg.model_copy(update={"enabled": False})
                    short = str(failures[cfg.name]).removeprefix(f"{cfg.name}: ")
                built[cfg.name] = (DeviceEntry(config=cfg, error=short), None)
        return {c.name: built[c.name] for c in configs}, failures

    def install(self, entries: Iterable[DeviceEntry]) -> None:
        """Make entries live (replacing ones of the same name)."""
        for entry in entries:
            self.entries[entry.name] = entry

    async def destroy(self, entries: Iterable[DeviceEntry]) -> None:
        """Destroy the ophyd objects of ``entries`` (in worker threads)."""
        loop = asyncio.get_running_loop()
        objs = [e.obj for e in entries if e.obj is not None]
        if objs:
            release_frozen()  # the start-up's devices may be among them (startup.py)
        for e in entries:
            e.obj = None
        await asyncio.gather(
            *(loop.run_in_executor(self.executor, _destroy, o) for o in objs), return_exceptions=True
        )

    # ------------------------------------------------------------------ access
    def get(self, name: str) -> DeviceEntry | None:
        """The entry of a device, or None."""
        return self.entries.get(name)

    def enabled(self) -> list[DeviceEntry]:
        """Every enabled, built device."""
        return [e for e in self.entries.values() if e.enabled]

    def configs(self) -> list[dict[str, Any]]:
        """The device dicts published in ``info/devices/config`` (failed devices as disabled)."""
        out = []
        for entry in self.entries.values():
            data = entry.config.as_dict()
            if entry.error is not None:
                data["enabled"] = False
            out.append(data)
        return out

    @contextlib.asynccontextmanager
    async def locked(self, entries: Iterable[DeviceEntry]) -> AsyncIterator[None]:
        """Hold the locks of ``entries`` (taken in name order, so two instructions never deadlock)."""
        ordered = sorted(set(entries), key=_entry_name)
        taken: list[DeviceLock] = []
        try:
            for entry in ordered:
                lock = entry.lock
                if not lock.try_acquire():
                    await lock.acquire()
                taken.append(lock)
            yield
        finally:
            for lock in reversed(taken):
                lock.release()


def _entry_name(entry: DeviceEntry) -> str:
    return entry.config.name


def _destroy_late(job: Future[Built]) -> None:
    """Destroy what a build finished after nobody waited for it any more (timeout, cancel)."""
    if not job.cancelled() and job.exception() is None:
        _destroy(job.result().obj)


def _destroy(obj: Any) -> None:
    try:
        obj.destroy()
    except BaseException as exc:  # a device that fails to tear down must not stop the others
        log.warning("destroying %s failed: %s", getattr(obj, "name", obj), exc)


__all__ = [
    "Built",
    "DeviceEntry",
    "DeviceLock",
    "DeviceManager",
    "build_device",
    "build_order",
    "describe_exception",
    "stoppable",
]


def stoppable(entry: DeviceEntry) -> bool:
    """Whether ``stop`` applies: writable and the object has a ``stop`` (plain signals have none)."""
    return not entry.config.readOnly and callable(getattr(entry.obj, "stop", None))
