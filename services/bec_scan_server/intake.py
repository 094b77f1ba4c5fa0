"""Request intake: scan requests, queue modifications and order changes from clients.

Scan requests arrive on ``personal/<user>/queue/queue_request`` exactly as a
stock BEC client sends them. They are read as raw bytes (so that even
undecodable bytes get an alarm), validated against the scan's declaration,
the devices and their limits, stored in Redis, and answered with a
``RequestResponseMessage`` on ``info/queue/queue_request_response``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bec_core.config import ScanLimits
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import DecodeError
from bec_core.messages import (
    BECMessage,
    RequestResponseMessage,
    ScanQueueMessage,
    ScanQueueModificationMessage,
    ScanQueueOrderMessage,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.base import MessageObject, recover_rid
from bec_core.serialization import dumps, loads_message
from bec_core.text import cut_text
from bec_scan_server.devices import DeviceRegistry
from bec_scan_server.manager import QueueManager
from bec_scan_server.modifications import modify, reorder
from bec_scan_server.publisher import MINOR, WARNING, error_info, publish_alarm
from bec_scan_server.queue import QueueError
from bec_scan_server.request_reader import RawRequest, RequestReader
from bec_scan_server.scans import SCANS, ScanBase
from bec_scan_server.scans.device_rpc import DeviceRPC
from bec_scan_server.validation import RequestError, build

log = logging.getLogger(__name__)

#: longest refusal text sent back (a refusal must not echo megabytes)
MAX_ANSWER = 2000


def _cut(text: str, limit: int = MAX_ANSWER) -> str:
    return cut_text(text, limit)


class Intake:
    """Validates and answers client requests, and feeds the queue manager."""

    def __init__(
        self,
        connector: AsyncRedisConnector,
        registry: DeviceRegistry,
        manager: QueueManager,
        scans: dict[str, type[ScanBase]] = SCANS,
        limits: ScanLimits | None = None,
    ) -> None:
        self.connector = connector
        self.limits = limits or ScanLimits()
        self.registry = registry
        self.manager = manager
        self.scans = scans
        self.direct: set[asyncio.Task[Any]] = set()
        self._reader: RequestReader | None = None

    # ------------------------------------------------------------------ validation
    async def build(self, request: ScanQueueMessage) -> tuple[ScanBase, dict[str, list[str]]]:
        """Validate a request; returns the scan and its readout priority, or raises RequestError."""
        cls = self.scans.get(request.scan_type)
        if cls is None:
            offered = ", ".join(sorted(n for n, c in self.scans.items() if not c.is_internal))
            raise RequestError(f"unknown scan type {request.scan_type!r}; available: {offered}")
        if not isinstance(request.queue, str) or not request.queue:
            raise RequestError("the queue name must be a non-empty string")
        # positions (up to max_points of them) are computed in a worker thread: the loop, the
        # heartbeat and the request reader go on meanwhile
        scan = await asyncio.to_thread(build, cls, request.parameter, self.limits)
        motors = scan.motors()
        extra_mon = _names(scan.bound.client.get("monitored"))
        on_request = _names(scan.bound.client.get("on_request"))
        await self.registry.check_devices(
            list(dict.fromkeys(scan.devices() + extra_mon + on_request)), motors
        )
        # limits are checked when the request runs (a LimitError alarm, as stock BEC), not here
        return scan, self.registry.readout_priority(motors, extra_mon, on_request)

    async def respond(
        self, metadata: dict[str, Any], accepted: bool, message: str = "", pipe: Any = None
    ) -> None:
        """Answer on ``info/queue/queue_request_response`` with the request's metadata (RID); the
        text is cut to :data:`MAX_ANSWER` characters (a refusal never echoes megabytes). Only
        queued on ``pipe`` if given."""
        await self.connector.send(
            MessageEndpoints.scan_queue_request_response(),
            RequestResponseMessage(
                accepted=accepted, message=_cut(message), metadata=bounded_metadata(metadata)
            ),
            pipe=pipe,
        )

    async def handle_request(self, value: Any, channel: str) -> None:
        """One decoded value from a request channel."""
        if not isinstance(value, ScanQueueMessage):
            text = f"{channel}: expected a ScanQueueMessage, got {type(value).__name__}"
            meta = value.metadata if isinstance(value, BECMessage) else {}
            await self._reject(meta, text)
            return
        problem = acl_mismatch(value, channel)
        if problem is not None:
            await self._reject(value.metadata, problem)
            return
        try:
            scan, readout = await self.build(value)
        except RequestError as exc:
            await self._reject(value.metadata, str(exc))
            return
        if isinstance(scan, DeviceRPC) and scan.read_only:
            await self.respond(value.metadata, True)
            self._run_direct(value, scan, readout)
            return
        item = self.manager.new_item(value, scan, readout)
        # stored and answered in one transaction (accepted if and only if stored); the item joins
        # the queue, and its status goes out, only once both are done
        pipe = self.connector.batch(transaction=True)
        await self.manager.store_item(item, pipe=pipe)
        await self.respond(value.metadata, True, pipe=pipe)
        await pipe.execute()
        await self.manager.add(item)

    def _run_direct(self, request: ScanQueueMessage, scan: ScanBase, readout: dict[str, list[str]]) -> None:
        """Run a read-only RPC now, outside the queue (as BEC does for get/read)."""
        from bec_scan_server.context import Control

        item = self.manager.new_item(request, scan, readout)
        task = asyncio.get_running_loop().create_task(
            self.manager.runner.run(item, Control()), name=f"rpc:{item.rid}"
        )
        self.direct.add(task)
        task.add_done_callback(self.direct.discard)

    async def _reject(self, metadata: dict[str, Any], text: str) -> None:
        log.warning("request rejected: %s", _cut(text))
        if metadata.get("RID"):
            await self.respond(metadata, False, text)
        else:
            info = error_info(_cut(f"request rejected: {text}"))
            await publish_alarm(self.connector, MINOR, info, metadata)

    # ------------------------------------------------------------------ raw request channel
    async def subscribe_requests(self) -> None:
        """PSUBSCRIBE ``personal/*/queue/queue_request`` (before the service reports RUNNING).

        The subscription is read by a thread of its own (:mod:`bec_scan_server.request_reader`)
        so that a burst is drained at socket speed whatever the event loop is doing."""
        self._reader = RequestReader.for_connector(
            self.connector, MessageEndpoints.scan_queue_request().endpoint, self.limits.max_request_bytes
        )
        await self._reader.start()

    async def listen(self) -> None:
        """Decode, validate and answer what the reader queued, in arrival order, until cancelled."""
        assert self._reader is not None, "subscribe_requests() first"
        try:
            while True:
                item = await self._reader.get()
                if item.data is None:
                    await self._refuse_cut(item)
                else:
                    await self._on_raw(item.channel, item.data)
        finally:
            await self._reader.stop()

    async def _refuse_cut(self, item: RawRequest) -> None:
        """Answer a request the reader kept only the ends of (too large, or too many waiting)."""
        if item.cut == "busy":
            text = (
                f"scan server busy: {self._reader.budget if self._reader else 0} bytes of requests are "
                f"waiting to be handled; this request of {item.size} bytes on {item.channel} was refused "
                "unread, send it again"
            )
        else:
            limit = self.limits.max_request_bytes
            text = (
                f"request of {item.size} bytes on {item.channel} is larger than the limit of {limit} bytes "
                "(scan_server.limits.max_request_bytes)"
            )
        log.warning("request rejected: %s", text)
        rid = recover_rid(item.head) or recover_rid(item.tail)
        if rid is not None:
            await self.respond({"RID": rid}, False, text)

    async def _on_raw(self, channel: str, data: bytes) -> None:
        try:
            value = loads_message(data, channel)
        except DecodeError as exc:
            log.warning("%s", cut_text(str(exc), 300))
            rid = recover_rid(data)
            if rid is not None:  # the sender can be named: answer it
                await self.respond({"RID": rid}, False, _cut(f"undecodable scan request: {exc}"))
            else:
                await publish_alarm(self.connector, MINOR, error_info(_cut(f"undecodable request: {exc}")))
            return
        try:
            await self.handle_request(value, channel)
        except Exception as exc:  # a bug or Redis trouble must not end the intake
            log.exception("request on %s failed", channel)
            meta = value.metadata if isinstance(value, BECMessage) else {}
            try:
                await self._reject(meta, f"internal error while handling the request: {exc}")
            except Exception:
                pass

    # ------------------------------------------------------------------ modifications, order
    async def start(self) -> None:
        """Subscribe to scan requests, modifications and order change requests."""
        await self.subscribe_requests()
        await self.connector.register(
            MessageEndpoints.scan_queue_modification_request(),
            self._on_modification,
            on_undecodable=self._undecodable(self._refuse_modification),
        )
        await self.connector.register(
            MessageEndpoints.scan_queue_order_change_request(),
            self._on_order,
            on_undecodable=self._undecodable(self._refuse_order),
        )

    def _undecodable(self, refuse: Any) -> Any:
        """A handler for undecodable bytes on a channel: answer the RID if one can be recovered."""

        def handler(channel: str, raw: bytes, exc: DecodeError) -> None:
            rid = recover_rid(raw)
            if rid is None:
                return  # counted and logged by the connector; nobody to answer
            task = asyncio.get_running_loop().create_task(
                refuse({"RID": rid}, _cut(f"undecodable message on {channel}: {exc}")),
                name=f"refuse:{rid}",
            )
            self.direct.add(task)
            task.add_done_callback(self.direct.discard)

        return handler

    async def _refuse_modification(self, metadata: dict[str, Any], text: str) -> None:
        log.warning("queue modification rejected: %s", text)
        await self.respond(metadata, False, text)

    async def _refuse_order(self, metadata: dict[str, Any], text: str) -> None:
        log.warning("queue order change rejected: %s", text)
        await self.connector.send(
            MessageEndpoints.scan_queue_order_change_response(),
            RequestResponseMessage(accepted=False, message=_cut(text), metadata=dict(metadata)),
        )

    async def _on_modification(self, msg: MessageObject) -> None:
        value = msg.value
        if not isinstance(value, ScanQueueModificationMessage):
            text = f"{msg.topic}: expected a ScanQueueModificationMessage, got {type(value).__name__}"
            log.warning("ignored: %s", text)
            meta = value.metadata if isinstance(value, BECMessage) else {}
            if meta.get("RID"):
                await self.respond(meta, False, text)
            return
        try:
            await modify(self.manager, value)
        except QueueError as exc:
            log.warning("queue modification rejected: %s", exc)
            await publish_alarm(self.connector, WARNING, error_info(str(exc)), value.metadata)
            if value.metadata.get("RID"):
                await self.respond(value.metadata, False, str(exc))
            return
        if value.metadata.get("RID"):
            await self.respond(value.metadata, True)

    async def _on_order(self, msg: MessageObject) -> None:
        value = msg.value
        if not isinstance(value, ScanQueueOrderMessage):
            text = f"{msg.topic}: expected a ScanQueueOrderMessage, got {type(value).__name__}"
            log.warning("ignored: %s", text)
            meta = value.metadata if isinstance(value, BECMessage) else {}
            if meta.get("RID"):
                await self._refuse_order(meta, text)
            return
        try:
            await reorder(self.manager, value)
            response = RequestResponseMessage(accepted=True, message="", metadata=value.metadata)
        except QueueError as exc:
            response = RequestResponseMessage(accepted=False, message=_cut(str(exc)), metadata=value.metadata)
        await self.connector.send(MessageEndpoints.scan_queue_order_change_response(), response)


#: an answer echoes the request's metadata (as stock BEC) up to this size, encoded
MAX_ECHO = 16 * 1024


def bounded_metadata(metadata: dict[str, Any], limit: int = MAX_ECHO) -> dict[str, Any]:
    """The request's metadata for its answer: whole if it encodes to at most ``limit`` bytes, else
    with each large value replaced by a note of its size (the RID and small keys are kept), so a
    burst of requests carrying megabytes does not come back as megabytes of answers."""
    try:
        if len(dumps(metadata)) <= limit:
            return dict(metadata)
    except Exception:  # not encodable as it is: cut what does not encode small
        pass
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            size = len(dumps(value))
        except Exception:
            size = -1
        out[key] = value if 0 <= size <= 1024 else f"[cut: {size} bytes encoded]" if size >= 0 else "[cut]"
    return out


def channel_user(channel: str) -> str | None:
    """``alice`` from ``personal/alice/queue/queue_request`` (None for another channel)."""
    head, tail = "personal/", "/queue/queue_request"
    if channel.startswith(head) and channel.endswith(tail) and len(channel) > len(head) + len(tail):
        return channel[len(head) : -len(tail)]
    return None


def acl_mismatch(request: BECMessage, channel: str) -> str | None:
    """Why a request is refused: ``client_info.acl_user`` is not the channel's user (BEC's ScanGuard)."""
    client_info = request.metadata.get("client_info")
    if not isinstance(client_info, dict) or client_info.get("acl_user") is None:
        return None
    claimed = client_info["acl_user"]
    user = channel_user(channel)
    if user is not None and claimed == user:
        return None
    return f"request on {channel} claims acl_user {claimed!r}"


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []
