"""``mv``, ``umv`` and ``wm``: moving devices and showing where they are.

A move is an ``mv``/``umv`` request to the scan server; it is done when
``info/devices/req_status/<RID>`` holds one ``DeviceReqStatusMessage`` per
motor (a Redis stream, read with blocking ``XREAD``: no polling). While it
waits, :class:`MoveStatus` checks the scan server's heartbeat between reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bec_core.client.errors import DeviceError
from bec_core.client.report import Liveness, ScanReport
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import RequestTimeoutError

if TYPE_CHECKING:
    from bec_core.client.client import BECClient

#: one blocking XREAD lasts at most this long before the liveness check runs
READ_SLICE_MS = 1000


class MoveStatus(ScanReport):
    """A running move: ``.wait()`` returns once every motor reported; ``.done`` tells without waiting."""

    def __init__(
        self,
        client: BECClient,
        request: Any,
        targets: dict[str, float],
        starts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(client, request)
        self.targets = targets
        #: where each motor was before the request was sent (None: not known)
        self.starts: dict[str, Any] = starts if starts is not None else dict.fromkeys(targets)
        self.results: dict[str, Any] = {}

    @property
    def devices(self) -> list[str]:
        """The motors this move drives."""
        return list(self.targets)

    @property
    def done(self) -> bool:
        """True once every motor reported (reads what is there, never blocks)."""
        if len(self.results) < len(self.targets):
            self._read(block=None)
        return len(self.results) >= len(self.targets)

    def wait(
        self, timeout: float | None = None, response_timeout: float = 10.0, file_written: bool = False
    ) -> MoveStatus:
        """Block until every motor arrived (``file_written`` is accepted and ignored: a move has no file).

        Raises:
            ScanRejectedError: the server refused the move (limits, unknown device, ...).
            DeviceError: a motor reported failure.
            RequestTimeoutError: ``timeout`` passed.
        """
        import time

        start = time.monotonic()
        self._client.wait_response(self.rid, response_timeout)
        liveness = Liveness(self._client)
        while len(self.results) < len(self.targets):
            elapsed = time.monotonic() - start
            if timeout is not None and elapsed >= timeout:
                missing = ", ".join(d for d in self.targets if d not in self.results)
                raise RequestTimeoutError(f"{missing} did not arrive within {timeout:g} s")
            block = (
                READ_SLICE_MS
                if timeout is None
                else max(1, min(READ_SLICE_MS, int((timeout - elapsed) * 1000)))
            )
            if not self._read(block):
                liveness.check()
        failed = [name for name, msg in self.results.items() if not msg.success]
        if failed:
            raise DeviceError(self._failure_text(failed))
        return self

    def _read(self, block: int | None) -> bool:
        """One XREAD of the request's stream; True if something new arrived."""
        from redis.exceptions import RedisError

        try:
            # stateful XREAD: the connector remembers where this stream was read up to
            entries = self._client.connector.xread(
                MessageEndpoints.device_req_status(self.rid), block=block, from_start=True
            )
        except (RedisError, OSError, TimeoutError):
            return False  # the liveness check reports a lost connection
        if not entries:
            return False
        for entry in entries:
            msg = entry.get("data")
            if msg is not None and getattr(msg, "device", None) in self.targets:
                self.results[msg.device] = msg
        return True

    def _failure_text(self, failed: list[str]) -> str:
        alarm = self._client.events.alarm_for(self.rid, None, 0)
        reason = f": {alarm.info.compact_error_message}" if alarm is not None else ""
        moves = ", ".join(f"{d} to {self.targets[d]}" for d in failed)
        return f"move of {moves} failed{reason}"

    def __repr__(self) -> str:
        state = "done" if len(self.results) >= len(self.targets) else "moving"
        return f"<MoveStatus {self.targets} {state}>"


def move_targets(client: BECClient, args: tuple[Any, ...]) -> dict[str, float]:
    """``(dev.samx, 1, dev.samy, 2)`` → ``{"samx": 1, "samy": 2}``; refuses odd argument lists."""
    if len(args) % 2:
        raise TypeError("give motors and targets in pairs: umv(dev.samx, 1, dev.samy, 2)")
    out: dict[str, float] = {}
    for i in range(0, len(args), 2):
        device = client.dev.resolve(args[i])
        out[device.name] = args[i + 1]
    return out


def where_motors(client: BECClient, devices: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of ``wm``: name, readback, setpoint, limits (one round trip for all devices)."""
    chosen = [client.dev.resolve(d) for d in devices] or [d for d in client.dev if d.is_positioner]
    if not chosen:
        return []
    eps = []
    for dev in chosen:
        eps += [MessageEndpoints.device_read(dev.name), MessageEndpoints.device_limits(dev.name)]
    values = client.connector.mget(eps)
    rows = []
    for i, dev in enumerate(chosen):
        read, limits = values[2 * i], values[2 * i + 1]
        signals = read.signals if read is not None else {}
        lim = limits.signals if limits is not None else {}
        rows.append(
            {
                "name": dev.name,
                "readback": signals.get(dev.readback_name, {}).get("value"),
                "setpoint": signals.get(f"{dev.name}_setpoint", {}).get("value"),
                "limits": [lim.get("low", {}).get("value"), lim.get("high", {}).get("value")],
            }
        )
    return rows


def check_limits(client: BECClient, targets: dict[str, float], relative: bool) -> None:
    """Refuse a move outside a motor's travel limits before anything is sent.

    The server accepts such a move and the device refuses it with a LimitError
    alarm, as stock BEC does for stock clients; our client says so up front, so
    no move line is shown and nothing is sent.

    Raises:
        DeviceError: names the motor, the target and the limits.
    """
    for name, target in targets.items():
        proxy = client.dev.get(name)
        if proxy is None or not hasattr(proxy, "limits"):
            continue
        low, high = (float(v) for v in proxy.limits)
        if low >= high:  # [0, 0]: no limits
            continue
        goal = float(target)
        if relative:
            position = proxy.position
            if position is None:
                continue
            goal += float(position)
        if not low <= goal <= high:
            raise DeviceError(f"{name}: target {goal:g} outside limits [{low:g}, {high:g}]")
