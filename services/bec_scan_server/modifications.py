"""Queue modifications (``user/queue/queue_modification_request``), dispatched by a table.

Each handler takes the manager and the ScanQueueModificationMessage and either
changes the queue or raises :class:`~bec_scan_server.queue.QueueError` with a
text for the requester. Semantics follow BEC 4.3.2 (reference section 5.7).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    ScanQueueLock,
    ScanQueueModificationMessage,
    ScanQueueOrderMessage,
    ScanRestartMessage,
)
from bec_scan_server.manager import QueueManager
from bec_scan_server.queue import FINAL, QueueError, QueueItem, ScanQueue

Handler = Callable[[QueueManager, ScanQueueModificationMessage], Awaitable[None]]


def _queue(manager: QueueManager, msg: ScanQueueModificationMessage | ScanQueueOrderMessage) -> ScanQueue:
    if msg.queue not in manager.queues:
        raise QueueError(f"no queue named {msg.queue!r} (queues: {', '.join(sorted(manager.queues))})")
    return manager.queues[msg.queue]


def _target(manager: QueueManager, msg: ScanQueueModificationMessage) -> tuple[ScanQueue, QueueItem]:
    queue = _queue(manager, msg)
    item = queue.find(msg.scan_id, msg.request_id)
    if item is None:
        wanted = msg.scan_id or msg.request_id
        if wanted is None or wanted == [None]:
            raise QueueError(f"{msg.action}: nothing is running in queue {queue.name!r}")
        raise QueueError(f"{msg.action}: no scan {wanted} in queue {queue.name!r}")
    return queue, item


async def pause(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Pause the queue and hold the running scan before its next point."""
    queue = _queue(manager, msg)
    queue.paused = True
    if queue.active is not None and queue.active.status not in FINAL:
        queue.active.status = "PAUSED"
        control = manager.controls.get(queue.name)
        if control is not None:
            control.pause()


async def deferred_pause(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Let the running scan finish, then hold the queue."""
    queue = _queue(manager, msg)
    queue.paused = True
    if queue.active is not None and queue.active.status not in FINAL:
        queue.active.status = "DEFERRED_PAUSE"


async def resume(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Continue the queue and the paused scan (``continue`` and ``resume``)."""
    queue = _queue(manager, msg)
    queue.paused = False
    if queue.active is not None and queue.active.status not in FINAL:
        queue.active.status = "RUNNING"
        control = manager.controls.get(queue.name)
        if control is not None:
            control.resume()
    manager.wake(queue.name)


def stopped(item: QueueItem) -> None:
    """Mark the running item STOPPED as soon as its end is requested (as BEC: clients see the
    request take effect in the next queue status, not only once the clean-up is over); the
    item's final status is set again when its run ends (COMPLETED if it finished meanwhile)."""
    item.status = "STOPPED"


def _stopper(status: str) -> Handler:
    async def stop(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
        queue, item = _target(manager, msg)
        if item is not queue.active:
            await manager.cancel_pending(queue, item)
            return
        control = manager.controls.get(queue.name)
        if control is None:
            raise QueueError(f"{msg.action}: the request is already finishing")
        if status != "user_completed" and queue.pending:
            queue.paused = True  # as BEC: after an abort the next scan waits for "continue"
        control.resume()
        control.stop(status, "user")
        stopped(item)

    stop.__doc__ = f"End the running scan as {status!r} (a pending one is cancelled)."
    return stop


async def clear(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Pause the queue, drop every pending request and abort the running one."""
    queue = _queue(manager, msg)
    queue.paused = True
    for item in list(queue.pending):
        await manager.cancel_pending(queue, item)
    control = manager.controls.get(queue.name)
    if control is not None:
        control.resume()
        control.stop("aborted", "user")
        if queue.active is not None:
            stopped(queue.active)


async def restart(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Queue a copy of the running (or named) request first, and abort the original."""
    queue, item = _target(manager, msg)
    if not item.request.allow_restart:
        raise QueueError(f"restart: request {item.rid} does not allow a restart")
    copy = manager.new_item(
        item.request.model_copy(deep=True), type(item.scan)(item.scan.bound), item.readout_priority
    )
    await manager.store_item(copy)
    await manager.add(copy, position=0)
    await manager.connector.send(
        MessageEndpoints.scan_restart(),
        ScanRestartMessage(original_scan_id=str(item.scan_id), scan_msg=item.request),
    )
    if item is queue.active:
        item.reason = "restart"
        control = manager.controls.get(queue.name)
        if control is not None:
            control.resume()
            control.stop("aborted", "user")
            stopped(item)
    else:
        await manager.cancel_pending(queue, item)


async def lock(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Lock the queue: no scan starts until the lock is released."""
    queue = manager.queue(msg.queue)
    identifier = str(msg.parameter.get("identifier") or msg.metadata.get("RID") or "default")
    queue.locks[identifier] = ScanQueueLock(
        reason=str(msg.parameter.get("reason", "")),
        identifier=identifier,
        allow_device_instructions=bool(msg.parameter.get("allow_device_instructions", True)),
    )


async def release_lock(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Release one lock (``parameter.identifier``), or all of them without an identifier."""
    queue = _queue(manager, msg)
    identifier = msg.parameter.get("identifier")
    if identifier is None:
        queue.locks.clear()
    elif identifier in queue.locks:
        del queue.locks[identifier]
    else:
        raise QueueError(f"release_lock: queue {queue.name!r} has no lock {identifier!r}")
    manager.wake(queue.name)


HANDLERS: dict[str, Handler] = {
    "pause": pause,
    "deferred_pause": deferred_pause,
    "continue": resume,
    "resume": resume,
    "abort": _stopper("aborted"),
    "halt": _stopper("halted"),
    "user_completed": _stopper("user_completed"),
    "clear": clear,
    "restart": restart,
    "lock": lock,
    "release_lock": release_lock,
}


async def modify(manager: QueueManager, msg: ScanQueueModificationMessage) -> None:
    """Apply a modification and publish the queue status; raises QueueError to reject it."""
    handler = HANDLERS.get(msg.action)
    if handler is None:
        raise QueueError(f"unknown queue modification {msg.action!r}; known: {', '.join(HANDLERS)}")
    await handler(manager, msg)
    await manager.publish_status()


async def reorder(manager: QueueManager, msg: ScanQueueOrderMessage) -> None:
    """Move a pending scan within its queue (stored order updated too)."""
    queue = _queue(manager, msg)
    queue.move(msg.scan_id, msg.action, msg.target_position)
    await manager.store.rewrite(queue.name, [i.raw for i in queue.pending])
    await manager.publish_status()
