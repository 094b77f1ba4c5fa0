"""Reactions to the scan lifecycle and to stop requests.

* ``info/scans/scan_status`` ``open``: stage the scan's monitored, baseline and
  async devices (once: a device staged by an explicit instruction stays as it
  is) and call ``on_scan_open(scan_info)`` on devices that define it.
  ``closed``/``aborted``/``halted``/``user_completed``: unstage them.
* ``user/queue/stop_devices`` (VariableMessage, value None/[] or names): stop
  those enabled, writable devices.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bec_core.endpoints import MessageEndpoints
from bec_core.errors import DecodeError
from bec_core.messages import ScanStatusMessage, VariableMessage
from bec_core.redis_connector import MessageObject
from bec_device_server.bridge import call, guarded
from bec_device_server.devices import DeviceEntry, describe_exception, stoppable

if TYPE_CHECKING:
    from bec_device_server.server import DeviceServer

log = logging.getLogger(__name__)

STAGED_PRIORITIES = ("monitored", "baseline", "async")
#: how long a stage instruction waits for its scan's "open" status on the status channel before
#: reading it from its key (the scan server publishes it before, and in the same write as, stage)
OPEN_STATUS_WAIT_S = 0.05
END_STATES = frozenset({"closed", "aborted", "halted", "user_completed"})


def _messages(msg: MessageObject, cls: type) -> list[Any]:
    values = msg.value if isinstance(msg.value, list) else [msg.value]
    return [v for v in values if isinstance(v, cls)]


class ScanHooks:
    """Stages and unstages devices as scans open and close; stops devices on request."""

    def __init__(self, server: DeviceServer) -> None:
        self.server = server
        self.scan_devices: dict[str, list[str]] = {}
        #: stage instructions waiting for their scan's status to arrive on the channel
        self._awaited: dict[str, asyncio.Future[None]] = {}

    async def on_scan_status(self, msg: MessageObject) -> None:
        """Callback of ``info/scans/scan_status``: the devices' ``scan_info.msg``, staging, unstaging."""
        for status in _messages(msg, ScanStatusMessage):
            self.set_scan_info(status)
            if status.status == "open":
                await self.scan_opened(status)
            elif status.status in END_STATES:
                await self.scan_closed(status)

    def set_scan_info(self, status: ScanStatusMessage) -> None:
        """Give devices the scan status (bec_lib's message class, as stock's ``scan_info.msg``)."""
        self.server.devices.facade.set_scan_status(status)
        waiter = self._awaited.pop(str(status.scan_id), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def ensure_scan_info(self, scan_id: Any) -> None:
        """Before staging for ``scan_id``: make the devices' ``scan_info`` that scan's.

        The stage instruction can be read before the status published ahead of it has been
        handled: it waits up to :data:`OPEN_STATUS_WAIT_S` for that status, then takes it
        from its key (a status published by nobody, or lost, costs one read, not a hang).
        """
        if not scan_id:
            return
        facade = self.server.devices.facade
        if facade.scan_info.scan_id == str(scan_id):
            return
        waiter = self._awaited.setdefault(str(scan_id), asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), OPEN_STATUS_WAIT_S)
            return
        except TimeoutError:
            self._awaited.pop(str(scan_id), None)
        try:
            status = await self.server.connector.get(MessageEndpoints.scan_status())
        except DecodeError as exc:  # a status that does not decode must not stop staging
            log.warning("scan_info for devices not updated: %s", exc)
            return
        if isinstance(status, ScanStatusMessage):
            facade.set_scan_status(status)

    def _entries(self, names: list[str]) -> list[DeviceEntry]:
        entries = []
        for name in dict.fromkeys(names):
            entry = self.server.devices.get(name)
            if entry is not None and entry.enabled:
                entries.append(entry)
        return entries

    async def scan_opened(self, status: ScanStatusMessage) -> None:
        """Stage the scan's devices and run their ``on_scan_open`` hooks."""
        if status.scan_id in self.scan_devices:
            return  # an open status published again
        priority = status.readout_priority or {}
        names = [n for p in STAGED_PRIORITIES for n in priority.get(p, [])]
        self.scan_devices[str(status.scan_id)] = names
        entries = self._entries(names)
        scan_info = status.content
        timeout = self.server.settings.timeouts.device_action
        pipe = self.server.connector.batch()

        async def one(entry: DeviceEntry) -> None:
            await self.server.actions.stage_one(entry, timeout, pipe)
            hook = getattr(entry.obj, "on_scan_open", None)
            if callable(hook) and entry.inline:
                guarded(hook, scan_info)  # a simulated device of ours: returns at once
            elif callable(hook):
                await call(
                    self.server.loop,
                    self.server.executor,
                    hook,
                    scan_info,
                    device=entry.name,
                    action="on_scan_open",
                    timeout=timeout,
                )

        async with self.server.devices.locked(entries):
            results = await asyncio.gather(*(one(e) for e in entries), return_exceptions=True)
        await pipe.execute()
        await self._report(entries, results, "stage", status.scan_id)

    async def scan_closed(self, status: ScanStatusMessage) -> None:
        """Unstage the devices staged for the scan."""
        names = self.scan_devices.pop(str(status.scan_id), None)
        if names is None:
            priority = status.readout_priority or {}
            names = [n for p in STAGED_PRIORITIES for n in priority.get(p, [])]
        entries = [e for e in self._entries(names) if e.staged]
        await self.unstage(entries, str(status.scan_id))

    async def unstage(self, entries: list[DeviceEntry], scan_id: str | None = None) -> None:
        """Unstage ``entries`` concurrently (errors become alarms)."""
        timeout = self.server.settings.timeouts.device_action
        pipe = self.server.connector.batch()
        async with self.server.devices.locked(entries):
            results = await asyncio.gather(
                *(self.server.actions.unstage_one(e, timeout, pipe) for e in entries), return_exceptions=True
            )
        await pipe.execute()
        await self._report(entries, results, "unstage", scan_id)

    async def _report(
        self, entries: list[DeviceEntry], results: list[Any], action: str, scan_id: Any
    ) -> None:
        for entry, result in zip(entries, results, strict=True):
            if isinstance(result, BaseException):
                full, compact = describe_exception(result)
                log.warning("%s of %s for scan %s failed: %s", action, entry.name, scan_id, compact)
                await self.server.alarm(
                    f"{entry.name}: {action} failed: {full}",
                    type(result).__name__,
                    entry.name,
                    metadata={"scan_id": scan_id},
                )

    async def on_stop_devices(self, msg: MessageObject) -> None:
        """Callback of ``user/queue/stop_devices``."""
        for request in _messages(msg, VariableMessage):
            names = request.value
            if names and not isinstance(names, list):
                names = [names]
            if names:
                entries = [self.server.devices.get(str(n)) for n in names]
                unknown = [str(n) for n, e in zip(names, entries, strict=True) if e is None]
                if unknown:
                    log.warning("stop_devices: unknown devices %s", ", ".join(unknown))
                targets = [e for e in entries if e is not None and e.enabled]
            else:
                targets = self.server.devices.enabled()
            await self.stop([e for e in targets if stoppable(e)])

    async def stop(self, entries: list[DeviceEntry]) -> None:
        """``obj.stop()`` on each entry concurrently (no lock: a move holds its device's lock)."""
        timeout = self.server.settings.timeouts.device_action
        results = await asyncio.gather(
            *(
                call(
                    self.server.loop,
                    self.server.executor,
                    e.obj.stop,
                    device=e.name,
                    action="stop",
                    timeout=timeout,
                )
                for e in entries
            ),
            return_exceptions=True,
        )
        for entry, result in zip(entries, results, strict=True):
            if isinstance(result, BaseException):
                await self.server.alarm(
                    f"{entry.name}: stop failed: {result}", type(result).__name__, entry.name, severity=0
                )


__all__ = ["ScanHooks"]
