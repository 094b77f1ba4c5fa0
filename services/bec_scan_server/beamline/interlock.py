"""The built-in scan interlock (stock's ``ScanInterlockActor``), driven only through Redis.

Clients configure it as stock ``bec.builtin_actors.scan_interlock`` does:

* ``enabled`` and ``trigger_setting`` are managed settings (:mod:`.settings`);
* the watched states (name -> accepted statuses) change through
  ``user/actor/builtin/scan_interlock/table_mod``; the table is kept in
  ``info/actor/builtin/scan_interlock/current_states_watched`` and every change
  is announced on ``info/actor/builtin/ScanInterlockActor/state_change_done``.

When a watched state leaves its accepted statuses the interlock locks the
primary queue (lock id ``ScanInterlockActor``) and, by trigger setting,
``restart_scan``: asks for a restart of the running scan (the copy waits
behind the lock, the original ends ``aborted``), as stock does;
``pause_scan``: pauses the running scan at its next point (stock only logs
"not yet implemented"); ``do_nothing``: only the lock. When every watched state
is good again it releases its lock and, if it paused the scan, continues it.
Every action is a ``ScanQueueModificationMessage`` on
``user/queue/queue_modification_request``, exactly what a client would send.
Trips and clears are told to clients on ``user/client_info`` and logged
(WARNING, so also on ``user/log``), naming the states.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AvailableBeamlineStatesMessage,
    BeamlineStateMessage,
    BlStateStatus,
    BuiltinActorStateUpdatedNotification,
    ClientInfoMessage,
    InterlockTargetState,
    ScanInterlockModifyStateTableMessage,
    ScanInterlockStateTableContent,
    ScanInterlockTriggerSetting,
    ScanQueueModificationMessage,
    ScanQueueStatusMessage,
)
from bec_core.messages.queue import QueueModificationAction
from bec_core.redis_connector import AsyncRedisConnector, MessageObject
from bec_core.redis_connector.streams import last_id
from bec_scan_server.beamline.settings import ManagedValue

log = logging.getLogger(__name__)

ACTOR_NAME = "ScanInterlockActor"
LOCK_ID = "ScanInterlockActor"
QUEUE = "primary"


class ScanInterlock:
    """Watches beamline states; locks, pauses or restarts the primary queue's scan when one goes bad."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector
        self.enabled = ManagedValue(connector, MessageEndpoints.scan_interlock_enabled(), self._on_enabled)
        self.trigger = ManagedValue(connector, MessageEndpoints.scan_interlock_trigger_setting())
        self.table: dict[str, InterlockTargetState] = {}
        self.statuses: dict[str, BlStateStatus] = {}
        self.tripped = False
        self.trips = 0  #: how many times the interlock triggered (tests, bench)
        self._paused_rid: str | None = None  #: the scan this interlock paused
        self._paused_completed = False  #: that scan ended COMPLETED (its last point was in flight)
        self._handled_rid: str | None = None  #: the running scan already acted upon
        self._queue: Any = None  #: the primary ScanQueueStatus, newest seen (while enabled)
        self._following_queue = False
        self._requests_since = (0, 0)  #: table requests up to this stream id predate start()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load the table and settings, follow states, requests and the queue; evaluate once."""
        stored = await self.connector.get(MessageEndpoints.scan_interlock_states())
        if isinstance(stored, ScanInterlockStateTableContent):
            self.table = {k: list(v) for k, v in stored.states_watched.items()}
        await self.trigger.start()
        await self.enabled.start()
        await self._follow_queue(bool(self.enabled.value))
        # requests are followed from the stream's start, skipping those older than now: none sent while
        # the subscription gets going is lost (a cursor taken later would skip them)
        self._requests_since = _stream_id(
            await last_id(self.connector, MessageEndpoints.modify_interlock_table().endpoint)
        )
        await self.connector.register(
            MessageEndpoints.modify_interlock_table(), self._on_modification, from_start=True
        )
        await self.connector.register(
            MessageEndpoints.available_beamline_states(), self._on_available, newest_only=True
        )
        for name in self.table:
            await self._watch(name)
        async with self._lock:
            await self._evaluate()

    async def close(self) -> None:
        """Stop following; the queue lock stays while enabled (the condition is still unknown)."""
        await self.enabled.close()
        await self.trigger.close()
        await self._follow_queue(False)
        await self.connector.unregister(MessageEndpoints.modify_interlock_table(), self._on_modification)
        await self.connector.unregister(MessageEndpoints.available_beamline_states(), self._on_available)
        for name in self.table:
            await self.connector.unregister(MessageEndpoints.beamline_state(name), self._on_state)

    # ------------------------------------------------------------------ table of watched states
    async def _watch(self, name: str) -> None:
        last = await self.connector.get_last(MessageEndpoints.beamline_state(name))
        self.statuses[name] = last.status if isinstance(last, BeamlineStateMessage) else "unknown"
        # newest_only: the current entry is delivered again, so a change right now is not missed
        await self.connector.register(MessageEndpoints.beamline_state(name), self._on_state, newest_only=True)

    async def _unwatch(self, name: str) -> None:
        await self.connector.unregister(MessageEndpoints.beamline_state(name), self._on_state)
        self.table.pop(name, None)
        self.statuses.pop(name, None)

    async def _configured_states(self) -> set[str]:
        msg = await self.connector.get_last(MessageEndpoints.available_beamline_states())
        return {s.name for s in msg.states} if isinstance(msg, AvailableBeamlineStatesMessage) else set()

    async def _on_modification(self, msg: MessageObject) -> None:
        if msg.id is not None and _stream_id(msg.id) <= self._requests_since:
            return  # sent before this interlock started
        req = msg.value
        if not isinstance(req, ScanInterlockModifyStateTableMessage):
            log.warning("scan interlock: ignoring %r on its table stream", type(req).__name__)
            return
        async with self._lock:
            if req.action == "add" and req.state_name is not None and req.status is not None:
                if req.state_name not in await self._configured_states():
                    log.warning("scan interlock: beamline state %s does not exist, not added", req.state_name)
                else:
                    if req.state_name not in self.table:
                        await self._watch(req.state_name)
                    self.table[req.state_name] = list(req.status)
            elif req.action == "remove_all":
                for name in list(self.table):
                    await self._unwatch(name)
            elif req.state_name is not None:
                await self._unwatch(req.state_name)
            await self._store_table()
            await self._evaluate()

    async def _on_available(self, msg: MessageObject) -> None:
        """A state that no longer exists is no longer watched (as stock)."""
        if not isinstance(msg.value, AvailableBeamlineStatesMessage):
            return
        names = {s.name for s in msg.value.states}
        async with self._lock:
            gone = [n for n in self.table if n not in names]
            for name in gone:
                log.info("scan interlock: %s is no longer a beamline state, not watched any more", name)
                await self._unwatch(name)
            if gone:
                await self._store_table()
                await self._evaluate()

    async def _store_table(self) -> None:
        await self.connector.set(
            MessageEndpoints.scan_interlock_states(),
            ScanInterlockStateTableContent(states_watched=self.table),
        )
        await self.connector.send(
            MessageEndpoints.builtin_actor_update_notif(ACTOR_NAME),
            BuiltinActorStateUpdatedNotification(actor_name=ACTOR_NAME),
        )

    # ------------------------------------------------------------------ inputs
    async def _on_state(self, msg: MessageObject) -> None:
        if not isinstance(msg.value, BeamlineStateMessage):
            return
        async with self._lock:
            if msg.value.name in self.table:
                self.statuses[msg.value.name] = msg.value.status
                await self._evaluate()

    async def _on_enabled(self, enabled: bool) -> None:
        log.info("scan interlock %s", "enabled" if enabled else "disabled")
        async with self._lock:
            if enabled:
                await self._follow_queue(True)
                await self._evaluate()
            else:
                if self.tripped:
                    await self._clear()
                await self._follow_queue(False)

    async def _follow_queue(self, follow: bool) -> None:
        """Follow the queue status only while enabled: it is needed only to act on a trip, and it
        comes several times per scan (each one a decode on the scan server's loop)."""
        if follow == self._following_queue:
            return
        self._following_queue = follow
        endpoint = MessageEndpoints.scan_queue_status()
        if follow:  # subscribed before it is read: a change in between is not missed
            await self.connector.register(endpoint, self._on_queue)
            self._set_queue(await self.connector.get(endpoint))
        else:
            await self.connector.unregister(endpoint, self._on_queue)
            self._queue = None

    def _set_queue(self, msg: Any) -> None:
        if isinstance(msg, ScanQueueStatusMessage):
            self._queue = msg.queue.get(QUEUE)
            if self._paused_rid is not None and any(
                e.status == "COMPLETED" and any(b.RID == self._paused_rid for b in e.request_blocks)
                for e in getattr(self._queue, "info", None) or []
            ):
                self._paused_completed = True

    async def _on_queue(self, msg: MessageObject) -> None:
        self._set_queue(msg.value)
        if self.tripped and self.enabled.value:  # a scan started while tripped (lock released by hand)
            async with self._lock:
                if self.tripped:
                    await self._act_on_active()

    # ------------------------------------------------------------------ decisions
    @property
    def mismatched(self) -> list[str]:
        """The watched states whose status is not one of the accepted ones."""
        return [n for n, ok in self.table.items() if self.statuses.get(n, "unknown") not in ok]

    async def _evaluate(self) -> None:
        if not self.enabled.value:
            return
        bad = self.mismatched
        if bad and not self.tripped:
            await self._trip(bad)
        elif not bad and self.tripped:
            await self._clear()

    def _active(self) -> tuple[str, str] | None:
        """``(RID, status)`` of the primary queue's running scan, if any."""
        for entry in getattr(self._queue, "info", None) or []:
            block = entry.active_request_block
            if block is not None and block.is_scan and entry.status in ("RUNNING", "PAUSED"):
                return block.RID, entry.status
        return None

    async def _trip(self, bad: list[str]) -> None:
        self.tripped = True
        self.trips += 1
        text = f"Scan interlock triggered for beamline states: {bad}"
        log.warning("%s (trigger setting %s)", text, self.trigger.value)
        await self._modify("lock", reason=f"Interlock for beamline states: {bad}", identifier=LOCK_ID)
        await self._act_on_active()
        await self._tell(text)

    async def _act_on_active(self) -> None:
        active = self._active()
        if active is None or active[0] == self._handled_rid:
            return
        rid, status = active
        setting = self.trigger.value
        if setting == ScanInterlockTriggerSetting.RESTART_SCAN:
            self._handled_rid = rid
            log.warning("scan interlock: restarting scan %s once the states are good again", rid)
            await self._modify("restart", request_id=rid, position="replace")
        elif setting == ScanInterlockTriggerSetting.PAUSE_SCAN and status == "RUNNING":
            self._handled_rid = rid
            self._paused_rid = rid
            self._paused_completed = False
            log.warning("scan interlock: pausing scan %s until the states are good again", rid)
            await self._modify("pause", request_id=rid)

    async def _clear(self) -> None:
        self.tripped = False
        self._handled_rid = None
        locks = getattr(self._queue, "locks", None)
        if locks is None or any(lk.identifier == LOCK_ID for lk in locks):
            await self._modify("release_lock", identifier=LOCK_ID)
        paused, self._paused_rid = self._paused_rid, None
        completed, self._paused_completed = self._paused_completed, False
        active = self._active()
        # continue what this interlock paused: the scan, or the queue if that scan finished anyway;
        # a scan aborted meanwhile (by the user) leaves the queue paused, as an abort does
        if paused is not None and ((active is not None and active[0] == paused) or completed):
            await self._modify("continue", request_id=paused)
        log.warning("Scan interlock cleared")
        await self._tell("Scan interlock cleared")

    async def _modify(
        self, action: QueueModificationAction, request_id: str | None = None, **parameter: Any
    ) -> None:
        await self.connector.send(
            MessageEndpoints.scan_queue_modification_request(),
            ScanQueueModificationMessage(
                scan_id=None, request_id=request_id, action=action, parameter=parameter, queue=QUEUE
            ),
        )

    async def _tell(self, text: str) -> None:
        await self.connector.xadd(
            MessageEndpoints.client_info(),
            {
                "data": ClientInfoMessage(
                    message=text, source="scan_server", severity=1, scope="scan_interlock"
                )
            },
            max_size=100,
        )


def _stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``ms-seq``) as a comparable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
