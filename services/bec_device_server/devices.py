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

from bec_core.errors import ConfigError
from bec_device_server.config import DeviceConfig
from bec_device_server.errors import DeviceConnectionError
from bec_device_server.facade import DeviceManagerFacade
from bec_device_server.info import device_info, eager_connection
from bec_device_server.resolve import is_delayed, resolve_device_class, split_device_config, wants

log = logging.getLogger(__name__)


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


def apply_config(obj: Any, config: dict[str, Any]) -> bool:
    """Apply the ``deviceConfig`` keys the constructor did not take, as stock's ``update_config``.

    ``_update_device_config`` of the device if it has one; ``limits`` on the travel-limit
    signals; ``labels``; a signal is set (and waited for); a method is called with the value;
    any other attribute is assigned. An unknown key is a :class:`ConfigError`. Returns True if
    a signal was set (the first readings must be taken again).
    """
    import ophyd

    if hasattr(obj, "_update_device_config"):
        obj._update_device_config(config)
        return False
    signal_updated = False
    for key, value in config.items():
        if key == "limits" and hasattr(obj, "low_limit_travel") and hasattr(obj, "high_limit_travel"):
            obj.low_limit_travel.set(value[0]).wait(timeout=2)
            obj.high_limit_travel.set(value[1]).wait(timeout=2)
            continue
        if key == "labels":
            obj._ophyd_labels_ = set(value or ())
            continue
        if key == "device_mapping" and not hasattr(obj, key):
            continue
        if key.startswith("_") or not hasattr(obj, key):
            raise ConfigError(f"Unknown config parameter {key} for device of type {type(obj).__name__}.")
        attr = getattr(obj, key)
        if isinstance(attr, ophyd.Signal):
            attr.set(value).wait(timeout=2)
            signal_updated = True
        elif callable(attr):
            attr(value)
        else:
            setattr(obj, key, value)
    return signal_updated


def construct(config: DeviceConfig, cls: type, facade: DeviceManagerFacade) -> tuple[Any, dict[str, Any]]:
    """``cls(**kwargs)`` as stock's device manager builds it; returns (object, keys applied later)."""
    device_config = dict(config.deviceConfig or {})
    device_config.pop("name", None)
    kwargs, rest = split_device_config(cls, device_config)
    kwargs["name"] = config.name
    device_access = rest.pop("device_access", None)
    mapped = device_access is None and rest.get("device_mapping")
    if device_access or mapped or wants(cls, "device_manager"):
        kwargs["device_manager"] = facade
    if wants(cls, "scan_info"):
        kwargs["scan_info"] = facade.scan_info
    return cls(**kwargs), rest


def connect(obj: Any, timeout: float) -> None:
    """``wait_for_connection`` on every signal, lazy ones included (as stock); raises if not connected."""
    if hasattr(obj, "wait_for_connection"):
        with eager_connection(obj):
            try:
                obj.wait_for_connection(all_signals=True, timeout=timeout)
            except TypeError:
                obj.wait_for_connection(timeout=timeout)
        return
    if not getattr(obj, "connected", True):
        raise ConnectionError(f"Failed to establish a connection to device {obj.name}")


def build_device(config: DeviceConfig, cls: type, facade: DeviceManagerFacade) -> Built:
    """Construct, connect, configure and first-read one device (blocking; run it in a worker thread).

    The order is stock's: construct, connect, device info, ``on_connected()``, first
    readings, then the remaining ``deviceConfig`` keys (readings again if they set a signal).
    """
    import ophyd

    obj, rest = construct(config, cls, facade)
    try:
        try:
            connect(obj, config.connectionTimeout)
        except Exception as exc:
            raise DeviceConnectionError(
                f"{config.name}: failed to connect: {type(exc).__name__}: {exc}"
            ) from exc
        info = device_info(obj)
        if hasattr(obj, "on_connected"):
            obj.on_connected()
        read = _first(obj.read, config.name)
        if apply_config(obj, rest):
            read = _first(obj.read, config.name)
        return Built(
            obj=obj,
            info=info,
            read=read,
            read_configuration=None
            if isinstance(obj, ophyd.Signal)
            else _first(obj.read_configuration, config.name),
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


def build_order(configs: list[DeviceConfig], classes: dict[str, type]) -> list[list[DeviceConfig]]:
    """Layers to build one after the other: a device after the devices it ``needs``; ComputedSignal
    and DeviceProxy classes after all others (as stock). Raises ConfigError for an unknown or
    cyclic ``needs``."""
    by_name = {c.name: c for c in configs}
    depth: dict[str, int] = {}

    def level(name: str, seen: tuple[str, ...]) -> int:
        if name in depth:
            return depth[name]
        if name in seen:
            raise ConfigError(f"Cyclic dependency detected among devices: {[*seen, name]}")
        cfg = by_name[name]
        needs = [n for n in cfg.needs if n in by_name]
        depth[name] = 1 + max((level(n, (*seen, name)) for n in needs), default=-1)
        return depth[name]

    for cfg in configs:
        level(cfg.name, ())
    top = max(depth.values(), default=0) + 1
    for cfg in configs:
        cls = classes.get(cfg.name)
        if cls is not None and is_delayed(cls):
            depth[cfg.name] += top
    layers: dict[int, list[DeviceConfig]] = {}
    for cfg in configs:
        layers.setdefault(depth[cfg.name], []).append(cfg)
    return [layers[k] for k in sorted(layers)]


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
            fut = loop.run_in_executor(self.executor, build_device, cfg, classes[cfg.name], self.facade)
            try:
                result = await asyncio.wait_for(fut, timeout + cfg.connectionTimeout)
            except TimeoutError:
                failures[cfg.name] = DeviceConnectionError(
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
            self.pending[cfg.name] = entry

        try:
            layers = build_order([c for c in configs if c.name in classes], classes)
            for layer in layers:
                await asyncio.gather(*(one(c) for c in layer))
        finally:
            for cfg in configs:
                self.pending.pop(cfg.name, None)
        for cfg in configs:
            if not cfg.enabled:
                built[cfg.name] = (DeviceEntry(config=cfg), None)
            elif cfg.name in failures:
                _, short = describe_exception(failures[cfg.name])
                if isinstance(failures[cfg.name], DeviceConnectionError):
                    # kept, disabled, as stock does (a later update may enable it again)
                    cfg = cfg.model_copy(update={"enabled": False})
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
    "DeviceManager",
    "apply_config",
    "build_device",
    "build_order",
    "device_limits",
]
