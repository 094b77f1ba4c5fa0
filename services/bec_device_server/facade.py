"""What devices get as ``device_manager`` and ``scan_info``: the parts of stock's device manager they use.

Device classes of ``ophyd_devices`` and of beamline plugin packages are written
against stock BEC's device server. They are handed, at construction:

* ``device_manager``: they use ``.connector`` (bec_lib's ``RedisConnector`` API:
  ``set_and_publish(MessageEndpoints.x(...), messages.X(...))`` with bec_lib's
  classes), ``.devices`` (``devices.samx.obj``, ``devices.get("samx")``, ``"samx"
  in devices``, attribute paths like ``devices.samx.readback``), ``.scan_info``
  and ``.current_session["devices"]``;
* ``scan_info``: an object whose ``.msg`` is the live ``ScanStatusMessage``
  (bec_lib's class) of the current scan, or None.

The connector *is* stock ``bec_lib.redis_connector.RedisConnector``, pointed at
our Redis: its wire format is the one our codec speaks, and devices get exactly
the API they were written for. It is made on first use (devices that never
publish do not open it). Our own simulated devices use :meth:`get` (an object
by name).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bec_core.serialization import dumps

if TYPE_CHECKING:
    from bec_device_server.devices import DeviceEntry, DeviceManager

log = logging.getLogger(__name__)


class DeviceView:
    """One device as stock's ``DSDevice``: ``.obj``, ``.name``, ``.enabled``, ``.read_only``, config;
    any other attribute is the ophyd object's (``devices.samx.readback``)."""

    def __init__(self, entry: DeviceEntry) -> None:
        self._entry = entry

    @property
    def obj(self) -> Any:
        """The ophyd object (None while disabled)."""
        return self._entry.obj

    @property
    def name(self) -> str:
        """The device name."""
        return self._entry.name

    @property
    def enabled(self) -> bool:
        """Configured enabled (and built)."""
        return self._entry.enabled

    @property
    def read_only(self) -> bool:
        """``readOnly`` of the device config."""
        return self._entry.config.readOnly

    @property
    def readout_priority(self) -> str:
        """``readoutPriority`` of the device config."""
        return self._entry.config.readoutPriority

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata of the last instruction that involved the device."""
        return self._entry.last_metadata

    @property
    def _config(self) -> dict[str, Any]:
        return self._entry.config.as_dict()

    def __getattr__(self, name: str) -> Any:
        obj = self._entry.obj
        if name.startswith("__") or obj is None:
            raise AttributeError(name)
        return getattr(obj, name)

    def __repr__(self) -> str:
        return f"<device {self.name} ({type(self._entry.obj).__name__})>"


class DeviceContainer:
    """The devices by name, as stock's ``DeviceContainer`` (a mapping also reachable by attribute)."""

    def __init__(self, manager: DeviceManager) -> None:
        self._manager = manager

    def _view(self, name: str) -> DeviceView | None:
        entry = self._manager.pending.get(name) or self._manager.entries.get(name)
        return DeviceView(entry) if entry is not None else None

    def get(self, name: str, default: Any = None) -> Any:
        """The device view of ``name``, else ``default``."""
        view = self._view(name)
        return default if view is None else view

    def __getitem__(self, name: str) -> DeviceView:
        view = self._view(name)
        if view is None:
            raise KeyError(name)
        return view

    def __getattr__(self, name: str) -> DeviceView:
        if name.startswith("_"):
            raise AttributeError(name)
        view = self._view(name)
        if view is None:
            raise AttributeError(f"no device {name!r}")
        return view

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._view(name) is not None

    def _names(self) -> list[str]:
        return list(dict.fromkeys([*self._manager.pending, *self._manager.entries]))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def keys(self) -> list[str]:
        """Device names."""
        return self._names()

    def values(self) -> list[DeviceView]:
        """Device views."""
        return [self[n] for n in self._names()]

    def items(self) -> list[tuple[str, DeviceView]]:
        """(name, view) pairs."""
        return [(n, self[n]) for n in self._names()]

    def enabled_devices(self) -> list[DeviceView]:
        """Views of the enabled devices."""
        return [v for v in self.values() if v.enabled]


class ScanInfo:
    """``scan_info`` of stock's device manager: ``.msg`` is the current scan's ScanStatusMessage.

    The server keeps its own (bec_core) message and turns it into bec_lib's class the first time a
    device reads ``.msg`` after it changed: the server gets each status twice per scan (open and
    closed), and most devices never read it. The conversion (an encode and bec_lib's decode, about
    20 us) so leaves the server's loop and runs, if at all, in the reading device's thread.
    ``scan_id`` is the current status's scan id. Thread-safe: devices read it from executor threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Any = None  #: the newest status (bec_core's class), not converted yet
        self._msg: Any = None
        self.scan_id: str | None = None

    def update(self, status: Any) -> None:
        """The new current status (bec_core's ScanStatusMessage); converted on the next read of
        :attr:`msg`."""
        with self._lock:
            self._pending, self.scan_id = status, str(status.scan_id)

    @property
    def msg(self) -> Any:
        """bec_lib's ScanStatusMessage of the current scan, or None. A status bec_lib cannot decode
        leaves the one before it (logged)."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                from bec_lib.serialization import MsgpackSerialization

                try:
                    self._msg = MsgpackSerialization.loads(dumps(pending))
                except Exception as exc:  # a status bec_lib cannot read must not break a device
                    log.warning("scan_info.msg not updated: %s", exc)
            return self._msg

    @msg.setter
    def msg(self, value: Any) -> None:
        with self._lock:
            self._pending, self._msg = None, value
            self.scan_id = getattr(value, "scan_id", None)


def bec_lib_address(redis: Any) -> tuple[str, tuple[str, str] | None, dict[str, Any]]:
    """(``host:port``, (user, password) or None, extra redis-py kwargs) for bec_lib's connector
    from our :class:`~bec_core.config.RedisSettings`."""
    from urllib.parse import urlsplit

    kwargs = redis.connection_kwargs()
    parts = urlsplit(kwargs["url"])
    extra: dict[str, Any] = {}
    if parts.scheme == "unix":
        bootstrap = "localhost:6379"
        extra["unix_socket_path"] = parts.path
    else:
        bootstrap = f"{parts.hostname}:{parts.port or 6379}"
        if parts.scheme == "rediss":
            extra["ssl"] = True
    password = kwargs.get("password")
    creds = (kwargs.get("username") or "default", password) if password is not None else None
    return bootstrap, creds, extra


class DeviceManagerFacade:
    """The ``device_manager`` devices are constructed with (see the module docstring)."""

    def __init__(
        self,
        manager: DeviceManager,
        redis_url: str,
        credentials: tuple[str, str] | None,
        redis_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._manager = manager
        self._redis_url = redis_url
        self._credentials = credentials
        self._redis_kwargs = dict(redis_kwargs or {})
        self._connector: Any = None
        self._lock = threading.Lock()
        self.devices = DeviceContainer(manager)
        self.scan_info = ScanInfo()

    @property
    def connector(self) -> Any:
        """bec_lib's ``RedisConnector`` on the server's Redis (made on first use, thread-safe)."""
        if self._connector is None:
            with self._lock:
                if self._connector is None:
                    from bec_lib.redis_connector import RedisConnector

                    conn = RedisConnector(self._redis_url, **self._redis_kwargs)
                    if self._credentials is not None:
                        conn.authenticate(username=self._credentials[0], password=self._credentials[1])
                    self._connector = conn
        return self._connector

    @property
    def current_session(self) -> dict[str, Any]:
        """``{"devices": [device config dicts]}``, as stock's ``current_session``."""
        return {"devices": self._manager.configs()}

    def get(self, name: str) -> Any:
        """The ophyd object of a device, else None (what our own simulated devices use)."""
        view = self.devices.get(name)
        return None if view is None else view.obj

    def set_scan_status(self, status: Any) -> None:
        """Make ``status`` (bec_core's ScanStatusMessage) the current ``scan_info.msg`` (in
        bec_lib's class, converted when a device reads it)."""
        self.scan_info.update(status)

    def shutdown(self) -> None:
        """Close the connector if one was made."""
        conn, self._connector = self._connector, None
        if conn is not None:
            conn.shutdown()


__all__ = ["DeviceContainer", "DeviceManagerFacade", "DeviceView", "ScanInfo", "bec_lib_address"]
