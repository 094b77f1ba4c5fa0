"""Logbook delivery: ``internal/message_service/queue`` into the configured sinks.

A stock client's ``bec.messaging.scilog.new("...").send()`` (and the notification
router) adds a :class:`MessagingServiceMessage` to that stream. We read it through
the consumer group :data:`GROUP`; an entry is acknowledged once every sink took it,
so entries that arrive while SciHub is down, or that a sink could not take, are
delivered later. A sink that keeps failing does not block the queue for ever: after
:data:`ATTEMPTS` tries the entry is logged as lost and acknowledged.

The client enables ``bec.messaging.<service>`` only when
``info/messaging_services/available_messaging_services`` offers it;
:func:`advertise` publishes what ``scihub.logbook`` configures.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bec_core.config import LogbookSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AvailableMessagingServicesMessage,
    MessagingConfig,
    MessagingServiceMessage,
    MessagingServiceScopeConfig,
    SciLogServiceInfo,
    SignalServiceInfo,
    TeamsServiceInfo,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.base import StreamEntry
from bec_scihub.sinks import LogbookRecord, LogbookSink

log = logging.getLogger(__name__)

GROUP = "scihub"
ATTEMPTS = 3
RETRY_DELAY_S = 0.5
#: Longest a sink may take for one record before it counts as failed (a hung sink must not
#: stall the queue behind a heartbeat that still says RUNNING).
SINK_TIMEOUT_S = 30.0


def available_services(settings: LogbookSettings) -> AvailableMessagingServicesMessage:
    """The services and scope ``settings`` offers, as stock Atlas would announce them."""
    offered = set(settings.services)
    scope = settings.scope

    def cfg(name: str) -> MessagingServiceScopeConfig:
        on = name in offered
        return MessagingServiceScopeConfig(enabled=on, default=scope if on else None)

    services: list[SciLogServiceInfo | SignalServiceInfo | TeamsServiceInfo] = []
    ident, name = f"bec-core-{scope}", "bec-core local sink"
    if "scilog" in offered:
        services.append(SciLogServiceInfo(id=ident, scope=scope, enabled=True, name=name, logbook_id=scope))
    if "teams" in offered:
        services.append(
            TeamsServiceInfo(id=ident, scope=scope, enabled=True, name=name, workflow_webhook_url="")
        )
    if "signal" in offered:
        services.append(SignalServiceInfo(id=ident, scope=scope, enabled=True, name=name))
    return AvailableMessagingServicesMessage(
        config=MessagingConfig(signal=cfg("signal"), teams=cfg("teams"), scilog=cfg("scilog")),
        deployment_services=services,
    )


async def advertise(connector: AsyncRedisConnector, settings: LogbookSettings) -> None:
    """Publish the available messaging services (a one-entry stream, as stock)."""
    await connector.xadd(
        MessageEndpoints.available_messaging_services(),
        {"data": available_services(settings)},
        max_size=1,
        approximate=False,
    )


class LogbookDelivery:
    """Moves queued messaging-service messages into the sinks."""

    def __init__(self, connector: AsyncRedisConnector, sinks: list[LogbookSink]) -> None:
        self.connector = connector
        self.sinks = sinks
        self.delivered = 0
        self.lost = 0

    async def run(self) -> None:
        """Consume the queue until cancelled."""
        endpoint = MessageEndpoints.message_service_queue()
        async for entry in self.connector.consume(endpoint, GROUP):
            await self.handle(entry)
            await self.connector.xack(endpoint, GROUP, entry.id)

    async def handle(self, entry: StreamEntry) -> None:
        """Deliver one entry to every sink (retrying); log it when it cannot be delivered."""
        msg = entry.value
        if entry.error is not None or not isinstance(msg, MessagingServiceMessage):
            self.lost += 1
            reason = entry.error or f"expected a MessagingServiceMessage, got {type(msg).__name__}"
            log.error("message_service queue entry %s dropped: %s", entry.id, reason)
            return
        record = LogbookRecord.from_message(entry.id, msg, timestamp=_entry_time(entry.id))
        pending = list(self.sinks)
        for attempt in range(1, ATTEMPTS + 1):
            failed = []
            for sink in pending:
                try:
                    await asyncio.wait_for(sink.deliver(record), SINK_TIMEOUT_S)
                except TimeoutError:
                    name = type(sink).__name__
                    log.warning("sink %s took longer than %g s on %s", name, SINK_TIMEOUT_S, entry.id)
                    failed.append(sink)
                except Exception as exc:
                    log.warning(
                        "sink %s failed on %s (attempt %d/%d): %s",
                        type(sink).__name__, entry.id, attempt, ATTEMPTS, exc,
                    )  # fmt: skip
                    failed.append(sink)
            if not failed:
                self.delivered += 1
                return
            pending = failed
            if attempt < ATTEMPTS:
                await asyncio.sleep(RETRY_DELAY_S * attempt)
        self.lost += 1
        log.error(
            "%s message %s (scope %s) not delivered to %s: %s",
            msg.service_name, entry.id, msg.scope,
            ", ".join(type(s).__name__ for s in pending), " | ".join(record.text)[:500],
        )  # fmt: skip

    async def close(self) -> None:
        """Close every sink."""
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception as exc:
                log.warning("closing sink %s: %s", type(sink).__name__, exc)


def _entry_time(entry_id: str) -> float:
    try:
        return int(entry_id.split("-", 1)[0]) / 1000.0
    except ValueError:
        return time.time()
