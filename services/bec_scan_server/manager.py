"""The queue manager: named queues, one worker task each, status and history publication.

Starting the next item is event-driven: adding an item, resuming or releasing
a lock sets the queue's wake-up event, and the worker starts the head item at
once. Pending requests are mirrored in Redis (:mod:`bec_scan_server.store`).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from redis.exceptions import RedisError

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import BECError
from bec_core.messages import ScanQueueHistoryMessage, ScanQueueStatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.retry import RedisUnavailableError
from bec_scan_server.context import Control
from bec_scan_server.queue import QueueItem, ScanQueue
from bec_scan_server.runner import Runner
from bec_scan_server.store import QueueStore, encode

log = logging.getLogger(__name__)

HISTORY_MAX = 100
PRIMARY = "primary"


class QueueManager:
    """Owns the queues and their workers."""

    def __init__(
        self,
        connector: AsyncRedisConnector,
        store: QueueStore,
        runner: Runner,
        settings: ServiceSettings,
    ) -> None:
        self.connector = connector
        self.store = store
        self.runner = runner
        self.settings = settings
        self.queues: dict[str, ScanQueue] = {}
        self.controls: dict[str, Control] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        #: set at shutdown: no further item starts (pending ones stay stored in Redis)
        self.stopping = False
        self.queue(PRIMARY)

    # ------------------------------------------------------------------ queues
    def queue(self, name: str) -> ScanQueue:
        """The queue ``name``, created on demand (with its worker once running)."""
        if name not in self.queues:
            self.queues[name] = ScanQueue(name)
            self._wake[name] = asyncio.Event()
            if self._group is not None:
                self._start_worker(name)
        return self.queues[name]

    def wake(self, name: str) -> None:
        """Let the queue's worker look for an item to start."""
        self._wake[name].set()

    def last_scan_number(self) -> int:
        """The last scan number handed out (for predicted numbers)."""
        return self.runner.numbers.last_scan_number

    async def publish_status(self) -> None:
        """SET+PUBLISH ``info/queue/queue_status`` with every queue."""
        await self.connector.set_and_publish(MessageEndpoints.scan_queue_status(), self.status_message())

    def status_message(self) -> ScanQueueStatusMessage:
        """The current status of every queue."""
        last = self.last_scan_number()
        return ScanQueueStatusMessage(queue={n: q.export(last) for n, q in self.queues.items()})

    # ------------------------------------------------------------------ adding
    def new_item(self, request: Any, scan: Any, readout_priority: dict[str, list[str]]) -> QueueItem:
        """A queue item for a validated request, with its stored form."""
        item = QueueItem(request=request, scan=scan, readout_priority=readout_priority)
        item.raw = encode(item.queue_id, item.scan_id, request)
        return item

    async def store_item(self, item: QueueItem, pipe: Any = None) -> None:
        """Write a pending item to Redis (before the request is accepted); on ``pipe`` if given."""
        await self.store.append(item.request.queue, item.raw, pipe=pipe)

    async def add(self, item: QueueItem, position: int | None = None) -> None:
        """Queue a stored item and publish; the worker starts it when its turn comes."""
        queue = self.queue(item.request.queue)
        if position is None:
            queue.append(item)
        else:
            queue.insert(position, item)
            await self.store.rewrite(queue.name, [i.raw for i in queue.pending])
        await self.publish_status()
        self.wake(queue.name)

    async def restore(self, build: Any) -> int:
        """Re-queue the requests stored by a previous process; returns how many."""
        count = 0
        for stored in await self.store.load():
            try:
                scan, readout = await build(stored.request)
            except Exception as exc:  # it became invalid (device removed, ...): tell and drop it
                log.error("dropping stored request %s: %s", stored.request.metadata.get("RID"), exc)
                await self.store.remove(stored.queue, stored.raw)
                continue
            item = QueueItem(
                request=stored.request,
                scan=scan,
                readout_priority=readout,
                queue_id=stored.queue_id,
                scan_id=stored.scan_id,
                raw=stored.raw,
            )
            self.queue(stored.queue).append(item)
            count += 1
        if count:
            log.info("restored %d queued request(s) from Redis", count)
        return count

    # ------------------------------------------------------------------ workers
    async def run(self) -> None:
        """Run every queue's worker until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            for name in self.queues:
                self._start_worker(name)
            await self.publish_status()
            await asyncio.Event().wait()  # workers run until the service cancels us

    def _start_worker(self, name: str) -> None:
        assert self._group is not None
        self._workers[name] = self._group.create_task(self._worker(name), name=f"queue-worker:{name}")
        self._wake[name].set()

    async def _worker(self, name: str) -> None:
        queue, wake = self.queues[name], self._wake[name]
        while True:
            item = None if self.stopping else queue.next_ready()
            if item is None:
                await wake.wait()
                wake.clear()
                continue
            queue.take(item)
            control = Control()  # before the first await: an abort from now on reaches this item
            self.controls[name] = control
            await self._persist(partial(self._take, name, item), "taking the item from the store")
            if control.exit is not None:  # stopped in the window above, before it ran: it never runs
                self.controls.pop(name, None)
                item.reason = "user"
                await self._persist(partial(self._finished, queue, item, False), "recording the stopped item")
                continue
            task = asyncio.get_running_loop().create_task(
                self.runner.run(item, control), name=f"item:{item.rid}"
            )
            control.task = task
            try:
                ok = await asyncio.shield(task)
            except asyncio.CancelledError:
                worker = asyncio.current_task()
                if worker is not None and worker.cancelling():  # the service stops: halt the item
                    if not task.done():
                        control.stop("halted", "user", note="shutdown")
                        await asyncio.gather(task, return_exceptions=True)
                    raise
                # the item's task was cancelled before its run could catch it (a stop that came
                # before its first step): it ends stopped, and this queue's worker goes on
                item.reason = item.reason or "user"
                ok = False
            except Exception:
                log.exception("queue %s: item %s crashed", name, item.rid)
                ok = False
            finally:
                self.controls.pop(name, None)
            await self._persist(partial(self._finished, queue, item, ok), "recording the finished item")

    async def _take(self, name: str, item: QueueItem) -> None:
        """Drop a started item from the store and publish the queue status: one round trip."""
        pipe = self.connector.batch()
        await self.store.remove(name, item.raw, pipe=pipe)
        await self.connector.set_and_publish(
            MessageEndpoints.scan_queue_status(), self.status_message(), pipe=pipe
        )
        await pipe.execute()

    async def _persist(self, op: Any, what: str) -> None:
        """Run ``op()``; while Redis is unavailable, wait for it and try again (a Redis outage must
        not end the worker: nothing can run without Redis, and everything can once it is back)."""
        health = self.connector.health
        while True:
            try:
                await op()
                return
            except (RedisError, ConnectionError, OSError) as exc:
                if isinstance(exc, BECError) and not isinstance(exc, RedisUnavailableError):
                    raise
                log.error("queue: %s failed (%s); waiting for Redis", what, exc)
                await health.wait_up(self.connector.outage_timeout)

    async def _finished(self, queue: ScanQueue, item: QueueItem, ok: bool) -> None:
        item.status = "COMPLETED" if ok else "STOPPED"
        if not ok and item.reason == "alarm" and self.settings.scan_server.pause_queue_on_failure:
            queue.paused = True
        elif queue.paused and not queue.pending:
            # as stock: a paused queue with nothing left to run goes back to RUNNING (an aborted
            # paused scan leaves the queue ready for the next one)
            queue.paused = False
        pipe = self.connector.batch()
        await self.connector.set_and_publish(
            MessageEndpoints.scan_queue_status(), self.status_message(), pipe=pipe
        )
        await self.push_history(queue, item, pipe=pipe)
        queue.active = None
        await self.connector.set_and_publish(
            MessageEndpoints.scan_queue_status(), self.status_message(), pipe=pipe
        )
        await pipe.execute()

    async def push_history(self, queue: ScanQueue, item: QueueItem, pipe: Any = None) -> None:
        """LPUSH the finished item to ``info/queue/queue_history`` (newest 100 kept)."""
        msg = ScanQueueHistoryMessage(
            status=item.status, queue_id=item.queue_id, info=item.describe(), queue=queue.name
        )
        await self.connector.lpush(
            MessageEndpoints.scan_queue_history(), msg, max_size=HISTORY_MAX, pipe=pipe
        )

    async def cancel_pending(self, queue: ScanQueue, item: QueueItem) -> None:
        """Remove a pending item (CANCELLED), from Redis too, and record it in the history."""
        queue.remove(item)
        await self.store.remove(queue.name, item.raw)
        item.status = "CANCELLED"
        item.reason = "user"
        await self.push_history(queue, item)

    async def shutdown(self) -> None:
        """Halt every running item (reason shutdown) and wait for their clean-up."""
        self.stopping = True
        tasks = []
        for control in list(self.controls.values()):
            control.stop("halted", "user", note="shutdown")
            if control.task is not None:
                tasks.append(control.task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
