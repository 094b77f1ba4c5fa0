"""Queue modifications dispatched by table, on the queue model (real Redis for the stored queue)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from bec_scan_server.context import Control
from bec_scan_server.manager import QueueManager
from bec_scan_server.modifications import HANDLERS, modify
from bec_scan_server.queue import QueueError
from bec_scan_server.scans import SCANS
from bec_scan_server.store import PREFIX, QueueStore
from bec_scan_server.validation import build

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ScanQueueMessage, ScanQueueModificationMessage
from bec_core.redis_connector import AsyncRedisConnector

PARAM = {"args": {"samx": [0, 1]}, "kwargs": {"steps": 3, "relative": False}}


@pytest.fixture
async def manager(clean_redis):
    conn = await AsyncRedisConnector(clean_redis).connect()
    runner = SimpleNamespace(numbers=SimpleNamespace(last_scan_number=0))  # no scans run in these tests
    yield QueueManager(conn, QueueStore(conn), runner, ServiceSettings())  # type: ignore[arg-type]
    await conn.close()


async def queued(manager, rid):
    request = ScanQueueMessage(scan_type="line_scan", parameter=PARAM, metadata={"RID": rid})
    item = manager.new_item(request, build(SCANS["line_scan"], PARAM), {})
    await manager.store_item(item)
    await manager.add(item)
    return item


async def running(manager, item):
    """Make ``item`` the active one with a control, as the worker does."""
    queue = manager.queues["primary"]
    queue.take(item)
    await manager.store.remove("primary", item.raw)
    control = Control()
    control.task = asyncio.get_running_loop().create_future()  # stands for the item's task
    manager.controls["primary"] = control
    return control


def mod(action, **kwargs):
    return ScanQueueModificationMessage(action=action, parameter=kwargs.pop("parameter", {}), **kwargs)


def test_every_action_has_a_handler():
    actions = {
        "pause",
        "deferred_pause",
        "continue",
        "abort",
        "clear",
        "restart",
        "halt",
        "resume",
        "lock",
        "release_lock",
        "user_completed",
    }
    assert set(HANDLERS) == actions


async def test_pause_and_continue(manager):
    a = await queued(manager, "a")
    control = await running(manager, a)
    await modify(manager, mod("pause"))
    assert manager.queues["primary"].status == "PAUSED" and a.status == "PAUSED" and control.paused
    await modify(manager, mod("continue"))
    assert manager.queues["primary"].status == "RUNNING" and not control.paused and a.status == "RUNNING"
    status = await manager.connector.get(MessageEndpoints.scan_queue_status())
    assert status.queue["primary"].status == "RUNNING"


async def test_abort_pending_and_active(manager):
    a, b, c = [await queued(manager, r) for r in "abc"]
    control = await running(manager, a)
    await modify(manager, mod("abort", scan_id=b.scan_id))
    assert b.status == "CANCELLED" and [i.rid for i in manager.queues["primary"].pending] == ["c"]
    assert await manager.connector.redis.llen(PREFIX + "primary") == 1
    history = await manager.connector.lrange(MessageEndpoints.scan_queue_history(), 0, 0)
    assert history[0].status == "CANCELLED"
    await modify(manager, mod("abort"))
    assert control.exit == ("aborted", "user")
    assert manager.queues["primary"].paused  # BEC: the next scan waits for "continue"
    assert control.task.cancelled()
    del c


async def test_halt_and_user_completed(manager):
    a = await queued(manager, "a")
    control = await running(manager, a)
    await modify(manager, mod("halt", scan_id=[a.scan_id]))
    assert control.exit == ("halted", "user")
    b = await queued(manager, "b")
    manager.queues["primary"].active = None
    control = await running(manager, b)
    await modify(manager, mod("user_completed"))
    assert control.exit == ("user_completed", "user")


async def test_clear_restart_lock(manager):
    a, b = await queued(manager, "a"), await queued(manager, "b")
    control = await running(manager, a)
    await modify(manager, mod("restart"))
    pending = manager.queues["primary"].pending
    assert pending[0].rid == "a" and pending[0].scan_id != a.scan_id and control.exit == ("aborted", "user")
    assert a.reason == "restart"
    await modify(manager, mod("clear"))
    assert manager.queues["primary"].pending == [] and manager.queues["primary"].paused
    assert await manager.connector.redis.llen(PREFIX + "primary") == 0
    await modify(manager, mod("lock", parameter={"identifier": "beam", "reason": "beam down"}))
    assert manager.queues["primary"].status == "LOCKED"
    await modify(manager, mod("release_lock", parameter={"identifier": "beam"}))
    assert "beam" not in manager.queues["primary"].locks
    del b


async def test_rejections(manager):
    with pytest.raises(QueueError, match="no scan nope"):
        await modify(manager, mod("abort", scan_id="nope"))
    with pytest.raises(QueueError, match="nothing is running"):
        await modify(manager, mod("halt"))
    with pytest.raises(QueueError, match="no queue named 'other'"):
        await modify(manager, mod("pause", queue="other"))
    with pytest.raises(QueueError, match="has no lock"):
        await modify(manager, mod("release_lock", parameter={"identifier": "x"}))


async def test_named_queue_created_on_demand_and_stored(manager):
    request = ScanQueueMessage(scan_type="line_scan", parameter=PARAM, queue="second", metadata={"RID": "s"})
    item = manager.new_item(request, build(SCANS["line_scan"], PARAM), {})
    await manager.store_item(item)
    await manager.add(item)
    status = await manager.connector.get(MessageEndpoints.scan_queue_status())
    assert set(status.queue) == {"primary", "second"}
    stored = await manager.store.load()
    assert [(s.queue, s.queue_id) for s in stored] == [("second", item.queue_id)]


async def test_a_stop_before_the_items_first_step_ends_it_and_the_worker_goes_on(clean_redis):
    """An abort handled after the worker made the item's task but before that task's first step
    cancels a coroutine that never ran: the item ends STOPPED and the next one still runs."""
    from waiting import until

    conn = await AsyncRedisConnector(clean_redis).connect()
    ran: list[str] = []

    def run(item, control):
        if item.rid == "a":  # lands before the task's first step (call_soon order)
            asyncio.get_running_loop().call_soon(control.stop, "aborted", "user")

        async def body() -> bool:
            ran.append(item.rid)
            return True

        return body()

    runner = SimpleNamespace(numbers=SimpleNamespace(last_scan_number=0), run=run)
    manager = QueueManager(conn, QueueStore(conn), runner, ServiceSettings())  # type: ignore[arg-type]
    worker = asyncio.create_task(manager.run())
    try:
        await queued(manager, "a")
        await queued(manager, "b")

        async def both_done() -> bool:
            return len(await conn.lrange(MessageEndpoints.scan_queue_history(), 0, -1)) == 2

        assert await until(both_done, 10), "the two items did not both end"
        statuses = [
            m.status for m in reversed(await conn.lrange(MessageEndpoints.scan_queue_history(), 0, -1))
        ]
        assert statuses == ["STOPPED", "COMPLETED"] and ran == ["b"], (statuses, ran)
        assert not worker.done()
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await conn.close()
