"""The scans the server offers: the built-ins plus the plugins, published as ``available_scans``.

Loaded at start; reloaded on the service request stock BEC uses
(``ServiceRequestMessage(action="reload_scans")`` on ``user/services/request``).
A bad plugin raises a WARNING alarm naming it (as stock does for a bad scan
name); the other scans load.
"""

from __future__ import annotations

import asyncio
import logging

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AvailableResourceMessage, ErrorInfo, ServiceRequestMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.base import MessageObject
from bec_scan_server.plugins import load_plugins
from bec_scan_server.publisher import WARNING, publish_alarm
from bec_scan_server.scans import SCANS, ScanBase, available_scans
from bec_scan_server.stock_adapter.host import StockHost

log = logging.getLogger(__name__)


class ScanCatalogue:
    """Holds ``scans`` (one dict, updated in place so the intake always sees the current set)."""

    def __init__(
        self,
        connector: AsyncRedisConnector,
        builtin: dict[str, type[ScanBase]] = SCANS,
        host: StockHost | None = None,
    ) -> None:
        self.connector = connector
        self.host = host  # hosts plugin scans written for stock BEC's classes (decision 0006)
        self.builtin = builtin
        self.scans: dict[str, type[ScanBase]] = dict(builtin)
        self.plugins: list[str] = []

    async def load(self, reload: bool = False) -> None:
        """(Re)load the plugins, report their problems, publish ``available_scans``."""
        plugins, problems = await asyncio.to_thread(load_plugins, self.builtin, reload, self.host)
        self.scans.clear()
        self.scans.update(self.builtin)
        self.scans.update(plugins)
        self.plugins = sorted(plugins)
        for problem in problems:
            info = ErrorInfo(
                error_message=problem.text,
                compact_error_message=problem.text,
                exception_type=problem.kind,
                device=None,
            )
            await publish_alarm(self.connector, WARNING, info, {"plugin": problem.plugin})
        await self.connector.set_and_publish(
            MessageEndpoints.available_scans(), AvailableResourceMessage(resource=available_scans(self.scans))
        )
        if plugins:
            log.info("scan plugins loaded: %s", ", ".join(self.plugins))

    async def start(self) -> None:
        """Load and publish, then listen for ``reload_scans``."""
        await self.load()
        await self.connector.register(MessageEndpoints.service_request(), self._on_request)

    async def _on_request(self, msg: MessageObject) -> None:
        if isinstance(msg.value, ServiceRequestMessage) and msg.value.action == "reload_scans":
            try:
                await self.load(reload=True)
            except Exception:  # a reload must never end the service
                log.exception("reloading the scans failed")
