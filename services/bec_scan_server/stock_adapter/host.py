"""What a stock scan class is constructed with: stock bec_lib's connector and device manager.

One :class:`StockHost` per scan server, started on the first hosted scan (in a
thread: bec_lib's ``DeviceManagerBase`` loads the device config and device info
from Redis synchronously, as stock's scan server does at start).
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

from bec_core.errors import BECError

log = logging.getLogger(__name__)

SERVICE_NAME = "ScanServer"


class StockHostError(BECError):
    """Stock scan classes cannot be hosted (no stock bec_lib, or Redis given in a form it cannot use)."""


class DeviceLockRegistry:
    """The ``device_lock_registry`` stock's ScanActions ask their service for.

    bec-core's queue runs one item per queue and needs no cross-request locks; stock's
    actions use the registry's answer to know which devices a scan *owns* (it stages,
    triggers, completes and unstages only those), so ownership is recorded per request.
    """

    def __init__(self) -> None:
        self._owned: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def acquire_many(self, request_id: str, devices: Any, **_callbacks: Any) -> list[str]:
        """Record ``devices`` as owned by ``request_id``; never waits."""
        names = sorted({str(d) for d in devices})
        with self._lock:
            self._owned.setdefault(request_id, set()).update(names)
        return names

    def release_all(self, request_id: str) -> list[str]:
        """Forget what ``request_id`` owned."""
        with self._lock:
            return sorted(self._owned.pop(request_id, set()))

    def get_owned_devices(self, request_id: str) -> set[str]:
        """The devices ``request_id`` owns."""
        with self._lock:
            return set(self._owned.get(request_id, set()))

    def get_pending_devices(self, request_id: str) -> list[str]:
        """Devices ``request_id`` waits for: none (nothing here waits)."""
        return []


class _ServiceConfig:
    def __init__(self, base_path: str) -> None:
        self.config = {"file_writer": {"base_path": base_path}}


class _Service:
    """The parts of stock's ``BECService`` bec_lib's DeviceManagerBase and ScanActions read."""

    def __init__(self, connector: Any, registry: DeviceLockRegistry, base_path: str) -> None:
        self.connector = connector
        self._service_name = SERVICE_NAME
        self.device_lock_registry = registry
        self._service_config = _ServiceConfig(base_path)


def bootstrap_address(url: str) -> str:
    """``host:port`` for stock bec_lib's RedisConnector from our ``redis.url``."""
    parts = urlsplit(url if "://" in url else f"redis://{url}")
    if parts.scheme != "redis" or not parts.hostname:
        raise StockHostError(f"stock scan classes need a redis://host:port Redis, not {url!r}")
    if parts.password or parts.username:
        raise StockHostError("stock scan classes are hosted only on a Redis without credentials")
    return f"{parts.hostname}:{parts.port or 6379}"


def _quiet_bec_lib_logger() -> None:
    """bec_lib logs through loguru at DEBUG to stderr unless a BEC service configured it: keep its
    warnings only (a config reload would otherwise log a line per device into the scan server's log)."""
    try:
        from bec_lib.logger import bec_logger
    except ImportError:
        return
    bec_logger.logger.remove()
    bec_logger.logger.add(sys.stderr, level="WARNING")


class StockHost:
    """Stock bec_lib's RedisConnector and DeviceManagerBase, shared by every hosted scan."""

    def __init__(self, redis_url: str, file_base_path: str) -> None:
        self.redis_url = redis_url
        self.file_base_path = file_base_path
        self.registry = DeviceLockRegistry()
        self.connector: Any = None
        self.device_manager: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Connect and load the devices (blocking; idempotent)."""
        with self._lock:
            if self.device_manager is not None:
                return
            try:
                from bec_lib.devicemanager import DeviceManagerBase
                from bec_lib.redis_connector import RedisConnector
            except ImportError as exc:
                raise StockHostError(f"stock bec_lib cannot be imported: {exc}") from exc

            class _Manager(DeviceManagerBase):  # type: ignore[misc]
                def _acknowledge_config_request(self, msg: Any) -> None:
                    """Not this copy: our own registry acknowledges config requests for the scan
                    server once *it* knows the new devices (an early ack would let a client send a
                    scan naming a device the intake does not know yet)."""

            _quiet_bec_lib_logger()
            address = bootstrap_address(self.redis_url)
            connector = RedisConnector(address)
            manager = _Manager(_Service(connector, self.registry, self.file_base_path))
            manager.initialize(address)
            self.connector, self.device_manager = connector, manager
            log.info("stock scan classes hosted: %d devices known", len(manager.devices))

    def refresh_if_missing(self, names: Any) -> bool:
        """Reload the device manager from Redis if it lacks one of ``names`` (roots of dotted names);
        True if it reloaded. Its copy follows config changes by itself, but a reload published before
        the device server's new device info leaves devices out of it."""
        roots = {str(n).split(".")[0] for n in names}
        missing = sorted(r for r in roots if r not in self.device_manager.devices)
        if not missing:
            return False
        log.info("stock device manager lacks %s: reloading it", ", ".join(missing))
        self.device_manager._reload_action()
        return True

    def close(self) -> None:
        """Stop the device manager and the connector (idempotent)."""
        with self._lock:
            manager, connector = self.device_manager, self.connector
            self.device_manager = self.connector = None
        for part in (manager, connector):
            if part is not None:
                try:
                    part.shutdown()
                except Exception as exc:  # closing must never raise
                    log.warning("closing the stock host: %s", exc)
