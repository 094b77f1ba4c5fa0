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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bec_device_server.config import DeviceConfig
from bec_device_server.info import device_info
from bec_device_server.resolve import resolve_device_class, split_device_config

log = logging.getLogger(__name__)


class DeviceLookup:
    """What simulated devices get as ``device_manager``: ``get(name)`` → the ophyd object or None."""

    def __init__(self, manager: DeviceManager) -> None:
        self._manager = manager

    def get(self, name: str) -> Any:
        """The ophyd object of an enabled device, else ``None``."""
        entry = self._manager.entries.get(name)
        return entry.obj if entry is not None else None


@dataclass
class Built:
    """The result of constructing one device in a worker thread."""

    obj: Any
    info: dict[str, Any]
    read: dict[str, Any] | None
    read_configuration: dict[str, Any] | None
    limits: tuple[float, float] | None


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
    inline: bool = False  # set()/trigger() may run on the event loop (class attribute bec_inline_calls)
    last_read: dict[str, Any] | None = None
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


def device_limits(obj: Any) -> tuple[float, float] | None:
    """Travel limits: ``low/high_limit_travel`` signals if present, else ``limits``; None if neither."""
    low = getattr(obj, "low_limit_travel", None)
    high = getattr(obj, "high_limit_travel", None)
    if low is not None and high is not None and hasattr(low, "get"):
        return (float(low.get()), float(high.get()))
    limits = getattr(obj, "limits", None)
    if isinstance(limits, tuple) and len(limits) == 2:
        return (float(limits[0]), float(limits[1]))
    return None


def _apply_remaining(obj: Any, name: str, rest: dict[str, Any]) -> None:
    """Apply ``deviceConfig`` keys the constructor does not take (BEC's ``update_config``)."""
    for key, value in rest.items():
        if key in ("device_access", "device_mapping"):
            continue
        if key == "limits":
            low, high = value
            if hasattr(obj, "low_limit_travel") and hasattr(obj, "high_limit_travel"):
                obj.low_limit_travel.put(low)
                obj.high_limit_travel.put(high)
                continue
            raise TypeError(f"{name}: deviceConfig key 'limits' but the device has no travel limits")
        attr = getattr(obj, key, None) if not key.startswith("_") else None
        if attr is not None and hasattr(attr, "put") and hasattr(attr, "get"):
            attr.put(value)
            continue
        raise TypeError(f"{name}: unknown deviceConfig key {key!r} for {type(obj).__name__}")


def build_device(config: DeviceConfig, allowed_modules: Iterable[str], lookup: DeviceLookup) -> Built:
    """Construct, connect and first-read one device (blocking; run it in a worker thread)."""
    cls = resolve_device_class(config.deviceClass, allowed_modules)
    kwargs, rest = split_device_config(cls, dict(config.deviceConfig or {}))
    kwargs.pop("name", None)
    if "device_manager" in _accepted(cls):
        kwargs["device_manager"] = lookup
    obj = cls(name=config.name, **kwargs)
    try:
        if hasattr(obj, "wait_for_connection"):
            obj.wait_for_connection(all_signals=True, timeout=config.connectionTimeout)
        _apply_remaining(obj, config.name, rest)
        return Built(
            obj=obj,
            info=device_info(obj),
            read=_first(obj.read, config.name),
            read_configuration=_first(obj.read_configuration, config.name),
            limits=device_limits(obj),
        )
    except BaseException:
        with contextlib.suppress(Exception):
            obj.destroy()
        raise


def _first(method: Any, name: str) -> dict[str, Any] | None:
    """A first reading for the caches; a failure here does not fail the device (reads have a policy)."""
    try:
        return dict(method())
    except Exception as exc:
        log.warning("%s: first %s() failed: %s", name, method.__name__, exc)
        return None


def _accepted(cls: type) -> set[str]:
    from bec_device_server.resolve import constructor_parameters

    return constructor_parameters(cls)[0]


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(full text with traceback, one line) of an exception."""
    full = "".join(traceback.format_exception(exc)).strip()
    return full, f"{type(exc).__name__}: {exc}".splitlines()[0]


class DeviceManager:
    """All devices of the server by name, with the thread pool their blocking calls run in."""

    def __init__(self, executor: ThreadPoolExecutor, allowed_modules: Iterable[str]) -> None:
        self.executor = executor
        self.allowed_modules = list(allowed_modules)
        self.entries: dict[str, DeviceEntry] = {}
        self.lookup = DeviceLookup(self)

    # ------------------------------------------------------------------ construction
    async def build(
        self, configs: Iterable[DeviceConfig], timeout: float
    ) -> tuple[dict[str, tuple[DeviceEntry, Built | None]], dict[str, BaseException]]:
        """Build every enabled device concurrently; disabled ones get an entry without object.

        Returns the new entries (with their first readings) and the failures by name.
        The entries are *not* installed; :meth:`install` does that.
        """
        loop = asyncio.get_running_loop()
        configs = list(configs)
        built: dict[str, tuple[DeviceEntry, Built | None]] = {}
        failures: dict[str, BaseException] = {}

        async def one(cfg: DeviceConfig) -> None:
            fut = loop.run_in_executor(self.executor, build_device, cfg, self.allowed_modules, self.lookup)
            try:
                result = await asyncio.wait_for(fut, timeout + cfg.connectionTimeout)
            except TimeoutError:
                failures[cfg.name] = TimeoutError(
                    f"{cfg.name}: construction did not finish within {timeout + cfg.connectionTimeout:g} s"
                )
                return
            except Exception as exc:
                failures[cfg.name] = exc
                return
            entry = DeviceEntry(config=cfg, obj=result.obj, info=result.info)
            entry.cheap = bool(getattr(type(result.obj), "bec_cheap_read", False))
            entry.inline = bool(getattr(type(result.obj), "bec_inline_calls", False))
            entry.last_read = result.read
            built[cfg.name] = (entry, result)

        await asyncio.gather(*(one(c) for c in configs if c.enabled))
        for cfg in configs:
            if not cfg.enabled:
                built[cfg.name] = (DeviceEntry(config=cfg), None)
            elif cfg.name in failures:
                _, short = describe_exception(failures[cfg.name])
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


def _destroy(obj: Any) -> None:
    try:
        obj.destroy()
    except Exception as exc:  # a device that fails to tear down must not stop the others
        log.warning("destroying %s failed: %s", getattr(obj, "name", obj), exc)


__all__ = [
    "Built",
    "DeviceEntry",
    "DeviceLock",
    "DeviceLookup",
    "DeviceManager",
    "build_device",
    "device_limits",
]
