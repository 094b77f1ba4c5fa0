"""Managed config values: settings a client writes as stream entries ``{"config": <message>}``.

Stock's ``RedisConfigValue`` keeps a setting (``scan_interlock.enabled``,
``scan_interlock.trigger_setting``) as the newest entry of a STREAM endpoint;
the message has one field, ``value``. This is the server's read side: the
current value, and a callback whenever a client changes it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bec_core.endpoints import EndpointInfo
from bec_core.redis_connector import AsyncRedisConnector, MessageObject

log = logging.getLogger(__name__)


class ManagedValue:
    """The current ``value`` of a managed setting; ``on_change(value)`` runs after each change."""

    def __init__(
        self,
        connector: AsyncRedisConnector,
        endpoint: EndpointInfo,
        on_change: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self.connector = connector
        self.endpoint = endpoint
        self.on_change = on_change
        self.value: Any = endpoint.message_type().value  # type: ignore[attr-defined]  # the default

    async def start(self) -> None:
        """Read the newest entry (the default if none) and follow later ones."""
        current = await self.connector.get_last(self.endpoint, key="config")
        if isinstance(current, self.endpoint.message_type):
            self.value = current.value  # type: ignore[attr-defined]
        # newest_only: the current entry comes again, so a change made right now is not missed
        await self.connector.register(self.endpoint, self._on_entry, newest_only=True)

    async def close(self) -> None:
        """Stop following."""
        await self.connector.unregister(self.endpoint, self._on_entry)

    async def _on_entry(self, msg: MessageObject) -> None:
        entry = msg.value.get("config") if isinstance(msg.value, dict) else msg.value
        if not isinstance(entry, self.endpoint.message_type):
            log.warning("ignoring %r on %s", type(entry).__name__, self.endpoint)
            return
        changed = entry.value != self.value  # type: ignore[attr-defined]
        self.value = entry.value  # type: ignore[attr-defined]
        if changed and self.on_change is not None:
            await self.on_change(self.value)
