"""``BECClient``: the scripting API (``dev``, ``scans``, ``queue``, ``umv``, ``mv``, ``wm``).

::

    from bec_core.client import BECClient

    with BECClient("localhost:6379") as bec:
        report = bec.scans.line_scan(bec.dev.samx, -1, 1, steps=5, exp_time=0, relative=False)
        report.wait()
        print(report.scan.data["bpm4i"]["bpm4i"])

Start-up is a handful of round trips: one MGET for the device configuration,
the available scans and the heartbeats, one MGET for every device's info,
and the subscriptions. Requests are sent exactly as a stock BEC client sends
them (reference section 9.2).
"""

from __future__ import annotations

import getpass
import socket
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from bec_core.client.devices import DeviceContainer, DeviceProxy
from bec_core.client.errors import (
    START_HINT,
    DeviceError,
    ScanRejectedError,
    ServerNotRunningError,
)
from bec_core.client.events import EventHub
from bec_core.client.history import ScanHistory
from bec_core.client.movement import MoveStatus, check_limits, move_targets, where_motors
from bec_core.client.queue import QueueControl
from bec_core.client.report import Liveness, ScanReport
from bec_core.client.scans import Scans, unknown_scan_text
from bec_core.client.validation import bundle_args, validate_call
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import ConnectorError, RedisCredentialsError, RequestTimeoutError

#: default deadline of a device RPC (the device server's own deadlines are shorter)
RPC_TIMEOUT_S = 15.0
#: the services a usable stack has
REQUIRED_SERVICES = ("ScanServer", "DeviceServer")


def open_connector(address: str, username: str | None, password: str | None) -> Any:
    """A connected sync RedisConnector; ServerNotRunningError (saying how to start) if Redis is down."""
    from bec_core.redis_connector import RedisConnector

    connector = RedisConnector(address, timeout=5.0, username=username, password=password, retries=2)
    try:
        connector.connect()
    except RedisCredentialsError:  # Redis runs: starting the stack would not help, the text says what does
        connector.shutdown()
        raise
    except (ConnectorError, TimeoutError) as exc:  # refused at once, or no answer within the deadline
        connector.shutdown()
        raise ServerNotRunningError(f"{exc}; {START_HINT}") from None
    return connector


class BECClient:
    """A connection to a bec-core (or BEC 4.x) stack through Redis.

    Args:
        redis: ``"host:port"`` or a redis://, rediss:// or unix:// URL.
        username, password: Redis ACL credentials; the user name also names the
            request channel ``personal/<username>/queue/queue_request`` (default ``default``).
        wait_for_server: at start, wait up to ``server_timeout`` seconds for the scan and
            device servers' heartbeats; raise :class:`ServerNotRunningError` if they do not come.
        notify: where one-line notices go (default: stderr).
    """

    def __init__(
        self,
        redis: str = "localhost:6379",
        username: str | None = None,
        password: str | None = None,
        *,
        wait_for_server: bool = True,
        server_timeout: float = 5.0,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.redis_address = redis
        self.username = username or "default"
        self._password = password
        self._acl_username = username
        self.wait_for_server = wait_for_server
        self.server_timeout = server_timeout
        self._notify = notify
        self._connector: Any = None
        self.events: EventHub = None  # type: ignore[assignment]
        self.dev = DeviceContainer()
        self.scans = Scans(self)
        self.queue = QueueControl(self)
        #: called with each new report when set (the shell's live display); it may block
        self.reporter: Callable[[ScanReport], Any] | None = None
        self._last_report: ScanReport | None = None
        self._system_user = _system_user()
        self._hostname = socket.gethostname()
        self.started = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def connector(self) -> Any:
        """The synchronous :class:`~bec_core.redis_connector.RedisConnector` (``bec.connector.get(...)``)."""
        if self._connector is None:
            raise ConnectorError("the client is not started: call start() (or use `with BECClient(...)`)")
        return self._connector

    @property
    def history(self) -> ScanHistory:
        """The finished scans with their files (``bec.history[-1].read()``)."""
        return ScanHistory(self.connector)

    @property
    def redis_url(self) -> str:
        """The Redis this client talks to."""
        return self._connector.url if self._connector is not None else self.redis_address

    def start(self) -> BECClient:
        """Connect, load devices and scans, subscribe; return self.

        Raises:
            ServerNotRunningError: Redis does not answer, or (with ``wait_for_server``) the
                scan or device server is not running; the text says how to start them.
        """
        if self.started:
            return self
        connector = open_connector(self.redis_address, self._acl_username, self._password)
        self._connector = connector
        self.events = EventHub(connector)
        try:
            self.events.start()
            connector.register(MessageEndpoints.available_scans(), cb=self._on_available_scans)
            self._load()
        except BaseException:
            self.shutdown()
            raise
        self.started = True
        return self

    def _load(self) -> None:
        c = self.connector
        eps = [MessageEndpoints.device_config(), MessageEndpoints.available_scans()]
        eps += [MessageEndpoints.service_status(s) for s in REQUIRED_SERVICES]
        cfg, scans, *beats = c.mget(eps)
        if self.wait_for_server and (None in beats or scans is None or cfg is None):
            cfg, scans = self._wait_for_stack()
        if scans is not None:
            self.scans._update(scans.resource)
        self._load_devices(cfg.resource if cfg is not None else [])

    def _wait_for_stack(self) -> tuple[Any, Any]:
        """Wait (event-driven, with a deadline) for the servers' heartbeats and publications."""
        import threading

        arrived = threading.Event()
        c = self.connector
        c.register(MessageEndpoints.service_status(), cb=lambda *_a, **_k: arrived.set())
        deadline = time.monotonic() + self.server_timeout
        eps = [MessageEndpoints.device_config(), MessageEndpoints.available_scans()]
        eps += [MessageEndpoints.service_status(s) for s in REQUIRED_SERVICES]
        while True:
            cfg, scans, *beats = c.mget(eps)
            missing = [s for s, b in zip(REQUIRED_SERVICES, beats, strict=True) if b is None]
            if not missing and scans is not None and cfg is not None:
                return cfg, scans
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = ", ".join(missing) or "the device configuration or the scan list"
                raise ServerNotRunningError(
                    f"Redis at {self.redis_url} answers, but {what} "
                    f"{'is' if len(missing) <= 1 else 'are'} not running (no heartbeat within "
                    f"{self.server_timeout:g} s); {START_HINT}"
                )
            arrived.wait(min(remaining, 0.5))
            arrived.clear()

    def _load_devices(self, config: list[dict[str, Any]]) -> None:
        names = [d["name"] for d in config if isinstance(d, dict) and "name" in d]
        infos = self.connector.mget([MessageEndpoints.device_info(n) for n in names]) if names else []
        devices = {}
        for entry, info in zip([d for d in config if "name" in d], infos, strict=True):
            devices[entry["name"]] = DeviceProxy(self, entry, info.info if info is not None else {})
        self.dev._replace(devices)

    def _on_available_scans(self, msg: Any, **_: Any) -> None:
        self.scans._update(msg.value.resource)

    def reload_devices(self) -> None:
        """Re-read the device configuration (after a config change on the device server)."""
        cfg = self.connector.get(MessageEndpoints.device_config())
        self._load_devices(cfg.resource if cfg is not None else [])

    def shutdown(self) -> None:
        """Close the connection and stop the background threads (idempotent)."""
        if self._connector is not None:
            self._connector.shutdown()
            self._connector = None
        self.started = False

    def __enter__(self) -> BECClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def notify(self, text: str) -> None:
        """Show a one-line notice to the user."""
        if self._notify is not None:
            self._notify(text)
        else:
            print(text, file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ requests
    def submit(self, request: Any) -> str:
        """Send a ScanQueueMessage as a stock client does (RID, client_info); return the RID."""
        rid = request.metadata.get("RID") or str(uuid.uuid4())
        request.metadata["RID"] = rid
        request.metadata["client_info"] = {
            "acl_user": self.username,
            "username": self._system_user,
            "hostname": self._hostname,
        }
        self.connector.send(MessageEndpoints.scan_queue_request(self.username), request)
        return rid

    def wait_response(self, rid: str, timeout: float = 10.0, what: str | None = None) -> Any:
        """The server's RequestResponseMessage for ``rid``.

        Raises:
            ScanRejectedError: the request was refused (the server's reason is the text).
            ServerNotRunningError: no scan server heartbeat while waiting.
            RequestTimeoutError: no answer within ``timeout`` seconds.
        """
        liveness = Liveness(self)
        response = self.events.wait_for(
            lambda: self.events.responses.get(rid),
            timeout,
            what or f"answer from the scan server to request {rid}",
            liveness.check,
        )
        if not response.accepted:
            message = response.message
            if isinstance(message, dict):
                message = message.get("message") or message.get("error") or str(message)
            raise ScanRejectedError(str(message or "request rejected by the scan server"))
        return response

    def run_scan(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ScanReport:
        """Validate and submit scan ``name``; return its report (a :class:`MoveStatus` for moves)."""
        from bec_core.messages import ScanQueueMessage

        info = self.scans.info.get(name)
        function = self.scans.get(name)
        if info is None or function is None:
            raise AttributeError(unknown_scan_text(name, self.scans.names()))
        signature = function.bec_signature  # type: ignore[attr-defined]
        checked_args, checked_kwargs = validate_call(name, info, signature, args, kwargs, self._usable)
        hide_report = bool(kwargs.get("hide_report", False))
        metadata = dict(kwargs.get("md") or kwargs.get("metadata") or {})
        system_config = {
            "file_suffix": kwargs.get("file_suffix"),
            "file_directory": kwargs.get("file_directory"),
        }
        scan_kwargs = dict(checked_kwargs)
        for key in ("monitored", "on_request"):
            if kwargs.get(key) is not None:
                values = kwargs[key] if isinstance(kwargs[key], (list, tuple)) else [kwargs[key]]
                scan_kwargs[key] = [self.dev.resolve(v).name for v in values]
        scan_kwargs["system_config"] = system_config
        bundle = (info.get("arg_bundle_size") or {}).get("bundle") or 0
        request = ScanQueueMessage(
            scan_type=name,
            parameter={"args": bundle_args(checked_args, bundle), "kwargs": scan_kwargs},
            queue=kwargs.get("scan_queue") or "primary",
            metadata={
                **system_config,
                "user_metadata": kwargs.get("user_metadata") or {},
                **metadata,
                "RID": str(uuid.uuid4()),
            },
        )
        report: ScanReport
        if name in ("mv", "umv"):
            targets = {d.name: float(v) for d, v in zip(checked_args[::2], checked_args[1::2], strict=True)}
            # read before the request goes out: a fast motor may have arrived by the time it is answered
            starts = {n: getattr(self.dev.get(n), "position", None) for n in targets}
            report = MoveStatus(self, request, targets, starts)
        else:
            report = ScanReport(self, request)
            self._last_report = report
        self.submit(request)
        if self.reporter is not None and not hide_report:
            self.reporter(report)
        return report

    def _usable(self, value: Any) -> Any:
        """``dev.resolve`` that also refuses a device the device server does not run (failed or disabled)."""
        proxy = self.dev.resolve(value)
        if isinstance(proxy, DeviceProxy) and not proxy.enabled:
            raise DeviceError(
                f"{proxy.name} is not running on the device server (it failed to start or is disabled "
                "in the device config; see the device server's log); nothing was sent"
            )
        return proxy

    def rpc(self, device: str, func: str, *args: Any, timeout: float = RPC_TIMEOUT_S, **kwargs: Any) -> Any:
        """Call ``device.func(*args, **kwargs)`` on the device server (a ``device_rpc`` request)."""
        from bec_core.messages import ScanQueueMessage

        rpc_id = str(uuid.uuid4())
        request = ScanQueueMessage(
            scan_type="device_rpc",
            parameter={
                "args": [],
                "kwargs": {
                    "device": device,
                    "func": func,
                    "func_args": list(args),
                    "func_kwargs": kwargs,
                    "rpc_id": rpc_id,
                    "system_config": {"file_suffix": None, "file_directory": None},
                },
            },
            queue="primary",
            metadata={"RID": str(uuid.uuid4()), "response": True},
        )
        start = time.monotonic()
        self.wait_response(self.submit(request), timeout)
        # The protocol leaves the result in a key (info/devices/rpc/<rpc_id>, SET without a
        # publication), so it is read with a short back-off until it appears or the deadline passes.
        endpoint = MessageEndpoints.device_rpc(rpc_id)
        delay = 0.0005
        while True:
            msg = self.connector.get(endpoint)
            if msg is not None:
                break
            if time.monotonic() - start > timeout:
                raise RequestTimeoutError(
                    f"{device}.{func}(): no result from the device server within {timeout:g} s"
                )
            time.sleep(delay)  # back-off between reads of the result key (see above)
            delay = min(delay * 2, 0.02)
        if not msg.success:
            out = msg.out if isinstance(msg.out, dict) else {"msg": str(msg.out)}
            raise DeviceError(f"{device}.{func}() failed: {out.get('msg') or out.get('error') or out}")
        return msg.return_val

    # ------------------------------------------------------------------ moves
    def mv(self, *args: Any, relative: bool = False) -> MoveStatus:
        """Start moves without waiting: ``mv(dev.samx, 1, dev.samy, 2)``; ``.wait()`` on the result."""
        check_limits(self, move_targets(self, args), relative)
        return self.run_scan("mv", args, {"relative": relative, "hide_report": True})  # type: ignore[return-value]

    def umv(self, *args: Any, relative: bool = False) -> MoveStatus:
        """Move and wait until every motor arrived (the shell shows the readbacks live)."""
        check_limits(self, move_targets(self, args), relative)
        status: MoveStatus = self.run_scan("umv", args, {"relative": relative})  # type: ignore[assignment]
        return status.wait()

    def wm(self, *devices: Any) -> list[dict[str, Any]]:
        """Where are the motors: readback, setpoint and limits (all positioners by default)."""
        return where_motors(self, devices)

    @property
    def last_scan(self) -> ScanReport | None:
        """The report of the newest scan this client started (``bec.last_scan.scan.data``), or None."""
        return self._last_report

    # ------------------------------------------------------------------ numbers
    @property
    def next_scan_number(self) -> int | None:
        """The number the next scan will get (from ``user/scan_number``)."""
        msg = self.connector.get(MessageEndpoints.scan_number())
        return next_number(msg.value if msg is not None else None)

    def __repr__(self) -> str:
        state = "started" if self.started else "not started"
        return f"<BECClient {self.redis_url} user={self.username} {state}>"


def next_number(value: Any) -> int | None:
    """``user/scan_number`` holds ``{account: n}`` (or a plain int): the next number is n + 1."""
    if isinstance(value, dict):
        numbers = [v for v in value.values() if isinstance(v, int)]
        current = value.get("", max(numbers) if numbers else None)
    else:
        current = value
    return current + 1 if isinstance(current, int) else None


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"
