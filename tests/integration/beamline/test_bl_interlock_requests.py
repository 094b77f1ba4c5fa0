"""The interlock's decisions, seen as the queue requests it sends (real Redis, no scan server).

A recorder stands where the scan server's intake listens; queue status and
beamline states are published as the scan server would publish them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bec_scan_server.beamline.interlock import LOCK_ID, ScanInterlock

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AvailableBeamlineStatesMessage,
    BeamlineStateConfig,
    BeamlineStateMessage,
    BoolConfigDefaultFalse,
    ScanInterlockModifyStateTableMessage,
    ScanInterlockTriggerSettingMessage,
    ScanQueueStatusMessage,
)
from bec_core.redis_connector import AsyncRedisConnector, MessageObject

DEADLINE = 10.0
BLOCK = {
    "msg": {"scan_type": "line_scan", "parameter": {"args": {"samx": [-5, 5]}, "kwargs": {}}},
    "RID": "rid-1",
    "readout_priority": {"monitored": ["samx"], "baseline": []},
    "is_scan": True,
    "scan_number": 4,
    "scan_id": "scan-1",
}


def queue_status(entry_status: str | None, locks: list[str] = ()) -> ScanQueueStatusMessage:  # type: ignore[assignment]
    info = []
    if entry_status is not None:
        info = [
            {
                "queue_id": "q-1",
                "scan_id": ["scan-1"],
                "is_scan": [True],
                "request_blocks": [BLOCK],
                "scan_number": [4],
                "status": entry_status,
                "active_request_block": BLOCK,
            }
        ]
    lock_list = [{"reason": "r", "identifier": i} for i in locks]
    return ScanQueueStatusMessage(
        queue={"primary": {"info": info, "status": "LOCKED" if locks else "RUNNING", "locks": lock_list}}
    )


class Bench:
    """The interlock on a real Redis, with the requests it sends recorded."""

    def __init__(self, conn: AsyncRedisConnector) -> None:
        self.conn = conn
        self.requests: list[Any] = []
        self.notices: list[str] = []
        self.changed = asyncio.Event()
        self.interlock = ScanInterlock(conn)

    def _cb(self, msg: MessageObject, into: str) -> None:
        getattr(self, into).append(msg.value if into == "requests" else msg.value.message)
        self.changed.set()

    async def start(self, enabled: bool, setting: str) -> Bench:
        await self.conn.register(
            MessageEndpoints.scan_queue_modification_request(), self._cb, into="requests"
        )
        await self.conn.register(MessageEndpoints.client_info(), self._cb, into="notices")
        states = [BeamlineStateConfig(name="beam_ok", state_type="DeviceWithinLimitsState")]
        await self.conn.xadd(
            MessageEndpoints.available_beamline_states(),
            {"data": AvailableBeamlineStatesMessage(states=states)},
        )
        await self.state("valid")
        await self.conn.xadd(
            MessageEndpoints.scan_interlock_trigger_setting(),
            {"config": ScanInterlockTriggerSettingMessage(value=setting)},  # type: ignore[arg-type]
        )
        await self.set_enabled(enabled)
        await self.interlock.start()
        await self.conn.xadd(
            MessageEndpoints.modify_interlock_table(),
            {
                "data": ScanInterlockModifyStateTableMessage(
                    action="add", state_name="beam_ok", status=["valid"]
                )
            },
        )
        await self.until(lambda: "beam_ok" in self.interlock.table, "state watched")
        return self

    async def set_enabled(self, enabled: bool) -> None:
        await self.conn.xadd(
            MessageEndpoints.scan_interlock_enabled(), {"config": BoolConfigDefaultFalse(value=enabled)}
        )

    async def state(self, status: str) -> None:
        await self.conn.xadd(
            MessageEndpoints.beamline_state("beam_ok"),
            {"data": BeamlineStateMessage(name="beam_ok", status=status, label=status)},  # type: ignore[arg-type]
            max_size=1,
        )

    async def queue(self, entry_status: str | None, locks: list[str] = ()) -> None:  # type: ignore[assignment]
        await self.conn.set_and_publish(
            MessageEndpoints.scan_queue_status(), queue_status(entry_status, locks)
        )

    async def until(self, check: Any, what: str) -> None:
        async def wait() -> None:
            while not check():
                self.changed.clear()
                try:
                    await asyncio.wait_for(
                        self.changed.wait(), 0.05
                    )  # interlock state has no event of its own
                except TimeoutError:
                    pass

        try:
            await asyncio.wait_for(wait(), DEADLINE)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; requests {self.actions()}") from None

    def actions(self) -> list[tuple[str, str | None]]:
        return [(r.action, r.request_id) for r in self.requests]


@pytest.fixture
async def conn(clean_redis: str) -> AsyncIterator[AsyncRedisConnector]:
    c = await AsyncRedisConnector(clean_redis).connect()
    try:
        yield c
    finally:
        await c.close()


async def test_restart_scan(conn: AsyncRedisConnector) -> None:
    b = await Bench(conn).start(True, "restart_scan")
    await b.queue("RUNNING")
    await b.state("invalid")
    await b.until(lambda: len(b.requests) >= 2, "lock and restart")
    assert b.actions() == [("lock", None), ("restart", "rid-1")]
    assert b.requests[0].parameter == {
        "reason": "Interlock for beamline states: ['beam_ok']",
        "identifier": LOCK_ID,
    }
    await b.until(lambda: b.notices, "notice")
    assert b.notices == ["Scan interlock triggered for beamline states: ['beam_ok']"]
    await b.queue("PENDING", locks=[LOCK_ID])  # the copy waits behind the lock
    await b.state("valid")
    await b.until(lambda: len(b.requests) >= 3, "release")
    assert b.actions()[2:] == [("release_lock", None)]
    assert b.requests[2].parameter == {"identifier": LOCK_ID}
    await b.interlock.close()


async def test_pause_scan_continues_only_what_it_paused(conn: AsyncRedisConnector) -> None:
    b = await Bench(conn).start(True, "pause_scan")
    await b.queue("RUNNING")
    await b.state("invalid")
    await b.until(lambda: len(b.requests) >= 2, "lock and pause")
    assert b.actions() == [("lock", None), ("pause", "rid-1")]
    await b.queue("PAUSED", locks=[LOCK_ID])
    await b.state("valid")
    await b.until(lambda: len(b.requests) >= 4, "release and continue")
    assert b.actions()[2:] == [("release_lock", None), ("continue", "rid-1")]
    # a scan the user paused is not continued by the interlock
    await b.queue("PAUSED")
    await b.state("invalid")
    await b.until(lambda: len(b.requests) >= 5, "lock")
    await b.queue("PAUSED", locks=[LOCK_ID])
    await b.state("valid")
    await b.until(lambda: len(b.requests) >= 6, "release")
    assert b.actions()[4:] == [("lock", None), ("release_lock", None)]
    await b.interlock.close()


async def test_disabled_then_enabled_while_bad(conn: AsyncRedisConnector) -> None:
    b = await Bench(conn).start(False, "do_nothing")
    await b.queue("RUNNING")
    await b.state("invalid")
    await b.until(lambda: b.interlock.statuses.get("beam_ok") == "invalid", "status seen")
    assert b.requests == []  # disabled: nothing sent
    await b.set_enabled(True)
    await b.until(lambda: b.requests, "lock on enable")
    assert b.actions() == [("lock", None)]  # do_nothing: the lock only
    await b.queue("RUNNING", locks=[LOCK_ID])
    await b.set_enabled(False)
    await b.until(lambda: len(b.requests) >= 2, "release on disable")
    assert b.actions()[1:] == [("release_lock", None)]
    await b.interlock.close()


async def queue_subscribers(conn: AsyncRedisConnector) -> int:
    channel = MessageEndpoints.scan_queue_status().endpoint
    return int((await conn.redis.pubsub_numsub(channel))[0][1])


async def test_queue_followed_only_while_enabled(conn: AsyncRedisConnector) -> None:
    """Disabled, the interlock does not decode the queue status (it comes several times per scan);
    enabled, it reads it at once: a scan that started while it was disabled is restarted on a trip."""
    b = await Bench(conn).start(False, "restart_scan")
    assert await queue_subscribers(conn) == 0
    await b.queue("RUNNING")  # published while nobody follows it
    await b.state("invalid")
    await b.until(lambda: b.interlock.statuses.get("beam_ok") == "invalid", "status seen")
    await b.set_enabled(True)
    await b.until(lambda: len(b.requests) >= 2, "lock and restart on enable")
    assert b.actions() == [("lock", None), ("restart", "rid-1")]
    assert await queue_subscribers(conn) == 1
    await b.queue("PENDING", locks=[LOCK_ID])  # the queue as the scan server leaves it: locked
    await b.until(lambda: b.interlock._queue is not None and b.interlock._queue.locks, "lock seen")
    await b.set_enabled(False)
    await b.until(lambda: len(b.requests) >= 3, "release on disable")
    assert b.actions()[2:] == [("release_lock", None)]
    await b.until(lambda: not b.interlock._following_queue, "queue no longer followed")
    await b.interlock.close()


async def test_table_stored_and_announced(conn: AsyncRedisConnector) -> None:
    b = await Bench(conn).start(True, "do_nothing")
    stored = await conn.get(MessageEndpoints.scan_interlock_states())
    assert stored.states_watched == {"beam_ok": ["valid"]}
    # the state disappears from the configured states: no longer watched
    await conn.xadd(
        MessageEndpoints.available_beamline_states(), {"data": AvailableBeamlineStatesMessage(states=[])}
    )
    notes: list[Any] = []
    await conn.register(MessageEndpoints.builtin_actor_update_notif("ScanInterlockActor"), notes.append)
    await b.until(lambda: notes, "the table change announced")
    assert b.interlock.table == {}
    stored = await conn.get(MessageEndpoints.scan_interlock_states())
    assert stored.states_watched == {}
    await b.interlock.close()


@pytest.mark.parametrize(("final", "continued"), [("COMPLETED", True), ("STOPPED", False)])
async def test_pause_when_the_scan_ends_anyway(
    conn: AsyncRedisConnector, final: str, continued: bool
) -> None:
    """The paused scan's last point was in flight: COMPLETED -> the queue is continued; aborted -> left."""
    b = await Bench(conn).start(True, "pause_scan")
    await b.queue("RUNNING")
    await b.state("invalid")
    await b.until(lambda: len(b.requests) >= 2, "lock and pause")
    await b.queue(final, locks=[LOCK_ID])
    await b.queue(None, locks=[LOCK_ID])
    await b.until(lambda: b.interlock._queue is not None and not b.interlock._queue.info, "queue seen empty")
    await b.state("valid")
    await b.until(lambda: b.notices[-1:] == ["Scan interlock cleared"], "cleared")
    await b.state("invalid")  # a later request, so that everything sent on the clear has arrived
    await b.until(lambda: b.actions()[-1:] == [("lock", None)] and len(b.requests) > 3, "the next lock")
    expected = [("release_lock", None)] + ([("continue", "rid-1")] if continued else []) + [("lock", None)]
    assert b.actions()[2:] == expected
    await b.interlock.close()
