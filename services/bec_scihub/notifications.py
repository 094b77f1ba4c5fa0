"""Notification routing: ``internal/messaging_services/notification/<event>`` to messaging services.

Stock services and clients announce events with ``connector.notify(event, message)``
(new scan, scan completed, alarms by severity, scan interlock); clients choose where
each event goes with ``bec.messaging.<service>.set_auto_notifications(...)``, which
writes ``user/messaging_services/notification_config``. For every route of an event
the router adds a :class:`MessagingServiceMessage` to ``internal/message_service/queue``,
where :mod:`bec_scihub.logbook` delivers it, as stock's ``MessagingManager`` does.
"""

from __future__ import annotations

import logging
from html.parser import HTMLParser

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    MessagingServiceFileContent,
    MessagingServiceMessage,
    MessagingServiceTagsContent,
    MessagingServiceTextContent,
    NotificationConfigMessage,
    NotificationMessage,
    NotificationServiceTarget,
)
from bec_core.messages.messaging import MessagingServiceContent
from bec_core.redis_connector import AsyncRedisConnector, MessageObject

log = logging.getLogger(__name__)

#: Queue length kept when we add to the messaging queue (entries are acknowledged long before).
QUEUE_MAXLEN = 1000
_PREFIX = MessageEndpoints.notification("").endpoint


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    """``html`` without its tags (Teams and Signal get plain text, as in stock)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def convert(service: str, content: list[MessagingServiceContent]) -> list[MessagingServiceContent]:
    """The content blocks of a notification as ``service`` takes them."""
    if service == "scilog":
        out = list(content)
        if not any(isinstance(c, MessagingServiceTagsContent) for c in out):
            out.append(MessagingServiceTagsContent(tags=["bec"]))  # stock's default SciLog tag
        return out
    out = []
    for block in content:
        if isinstance(block, MessagingServiceTextContent):
            out.append(MessagingServiceTextContent(content=plain_text(block.content)))
        elif service == "signal" and isinstance(block, MessagingServiceFileContent):
            out.append(block)
    return out


class NotificationRouter:
    """Routes notification events by the clients' routing configuration."""

    def __init__(self, connector: AsyncRedisConnector, offered: set[str], default_scope: str) -> None:
        self.connector = connector
        self.offered = offered
        self.default_scope = default_scope
        self.routes: dict[str, list[NotificationServiceTarget]] = {}
        self.routed = 0

    async def start(self) -> None:
        """Load the routing configuration and subscribe to it and to every notification event."""
        await self.connector.register(MessageEndpoints.notification_config(), self._on_config)
        current = await self.connector.get(MessageEndpoints.notification_config())
        if isinstance(current, NotificationConfigMessage):
            self.routes = dict(current.routes)
        await self.connector.register(MessageEndpoints.notification(), self.on_notification)

    def _on_config(self, msg: MessageObject) -> None:
        if isinstance(msg.value, NotificationConfigMessage):
            self.routes = dict(msg.value.routes)
            log.info("notification routes: %s", {k: len(v) for k, v in self.routes.items()})

    async def on_notification(self, msg: MessageObject) -> None:
        """Queue one message per route of the event (an unknown service is logged and skipped)."""
        if not isinstance(msg.value, NotificationMessage):
            log.warning("ignoring %s on %s: not a NotificationMessage", type(msg.value).__name__, msg.topic)
            return
        event = msg.topic.removeprefix(_PREFIX)
        for target in self.routes.get(event, []):
            if target.service_name not in self.offered:
                log.warning("notification %s: service %r is not enabled", event, target.service_name)
                continue
            outgoing = MessagingServiceMessage(
                service_name=target.service_name,
                message=convert(target.service_name, msg.value.message),
                scope=target.scope if target.scope is not None else self.default_scope,
                metadata={"notification": event},
            )
            await self.connector.xadd(
                MessageEndpoints.message_service_queue(), {"data": outgoing}, max_size=QUEUE_MAXLEN
            )
            self.routed += 1
