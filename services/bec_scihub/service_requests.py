"""Service requests on ``user/services/request`` (``ServiceRequestMessage``).

SciHub owns ``restart`` (stock: ``bec._request_server_restart()``); ``reload_scans``
belongs to the scan server and is left to it. Stock answers nothing; we tell the
user what happened with a ``ClientInfoMessage`` (source ``scihub``) and, when the
request carries a RID, push a ``ServiceResponseMessage`` to
``user/services/response/<RID>``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import ClientInfoMessage, ServiceRequestMessage, ServiceResponseMessage
from bec_core.redis_connector import AsyncRedisConnector, MessageObject
from bec_scihub.errors import RestartError
from bec_scihub.restart import Restarter

log = logging.getLogger(__name__)

#: Actions other services own: not answered here.
NOT_OURS = frozenset({"reload_scans"})
RESPONSE_EXPIRY_S = 100


class ServiceRequests:
    """Dispatches service requests by action."""

    def __init__(self, connector: AsyncRedisConnector, restarter: Restarter) -> None:
        self.connector = connector
        self.restarter = restarter
        self.handlers: dict[str, Callable[[], Awaitable[str]]] = {"restart": self.restart}
        self.handled = 0

    async def start(self) -> None:
        """Subscribe to the request channel."""
        await self.connector.register(MessageEndpoints.service_request(), self.on_request)

    async def on_request(self, msg: MessageObject) -> None:
        """Run the handler of the request's action and answer."""
        request = msg.value
        if not isinstance(request, ServiceRequestMessage):
            log.warning("ignoring %s on %s", type(request).__name__, msg.topic)
            return
        if request.action in NOT_OURS:
            return
        handler = self.handlers.get(request.action)
        if handler is None:
            accepted, text = False, f"SciHub: unknown service request action {request.action!r}"
        else:
            try:
                accepted, text = True, await handler()
            except RestartError as exc:
                accepted, text = False, f"SciHub cannot {request.action}: {exc}"
        self.handled += 1
        (log.info if accepted else log.error)("service request %s: %s", request.action, text)
        await self.answer(request, accepted, text)

    async def answer(self, request: ServiceRequestMessage, accepted: bool, text: str) -> None:
        """Tell the user (client info) and the requester (its RID's response list, if any)."""
        rid = request.metadata.get("RID")
        pipe = self.connector.pipeline()
        severity = 0 if accepted else 2
        notice = ClientInfoMessage(message=text, show_asap=True, source="scihub", severity=severity)
        await self.connector.xadd(
            MessageEndpoints.client_info(),
            {"data": notice},
            max_size=100,
            pipe=pipe,
        )
        if isinstance(rid, str) and rid:
            await self.connector.lpush(
                MessageEndpoints.service_response(rid),
                ServiceResponseMessage(
                    response={"action": request.action, "accepted": accepted, "message": text},
                    metadata={"RID": rid},
                ),
                expire=RESPONSE_EXPIRY_S,
                pipe=pipe,
            )
        await self.connector.execute_pipeline(pipe)

    async def restart(self) -> str:
        """Start the restart command (detached: it stops this process too)."""
        pid, argv = self.restarter.launch()
        return f"restarting the services (pid {pid}: {' '.join(argv)})"
