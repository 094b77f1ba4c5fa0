"""The SciHub service: ACL login info, endpoint catalogue, service requests, logbook, notifications.

See docs/decisions/0002-scihub-roles.md for which of stock SciHub's jobs live here
(and why device-config requests stay with the device server).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from bec_core.config import ServiceSettings
from bec_core.service import Service
from bec_scihub.acl import AclPublisher
from bec_scihub.catalogue import publish_catalogue
from bec_scihub.logbook import LogbookDelivery, advertise
from bec_scihub.notifications import NotificationRouter
from bec_scihub.restart import Restarter
from bec_scihub.service_requests import ServiceRequests
from bec_scihub.sinks import SinkContext, load_sinks

log = logging.getLogger(__name__)


class SciHub(Service):
    """Publishes the login info and endpoint catalogue, answers service requests, delivers
    logbook messages and routes notifications."""

    name: ClassVar[str] = "SciHub"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        conn = self.connector
        hub = settings.scihub
        self.acl = AclPublisher(conn, hub.acl_refresh_s)
        self.requests = ServiceRequests(conn, Restarter(hub.restart_command, settings.state_dir))
        # Sinks are built here so that a sink that is not installed is a start-up error (exit 2).
        self.delivery = LogbookDelivery(conn, load_sinks(SinkContext(hub.logbook, settings.state_dir, conn)))
        self.router = NotificationRouter(conn, set(hub.logbook.services), hub.logbook.scope)

    async def setup(self) -> None:
        """Publish login info, catalogue and messaging services; subscribe."""
        await self.acl.publish()
        await publish_catalogue(self.connector)
        await advertise(self.connector, self.settings.scihub.logbook)
        await self.router.start()
        await self.requests.start()

    async def main(self) -> None:
        """Run the logbook delivery and the ACL refresh; either failing ends the service."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.delivery.run(), name="logbook-delivery")
            group.create_task(self.acl.run(), name="acl-refresh")

    async def shutdown(self) -> None:
        """Close the sinks (the loops are cancelled by the base class)."""
        await self.delivery.close()

    def heartbeat_info(self) -> dict[str, Any]:
        """Heartbeat info plus counters of the delivered and routed messages."""
        info = super().heartbeat_info()
        info["logbook"] = {"delivered": self.delivery.delivered, "lost": self.delivery.lost}
        info["notifications_routed"] = self.router.routed
        info["service_requests"] = self.requests.handled
        return info
