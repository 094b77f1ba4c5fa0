"""The DAP service: announces the lmfit models, answers fit requests, runs continuous fits."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AvailableResourceMessage, DAPRequestMessage, ScanStatusMessage
from bec_core.redis_connector.base import MessageObject
from bec_core.service import Service
from bec_dap.continuous import ContinuousFits
from bec_dap.errors import DAPError
from bec_dap.fitting import FitData, FitOptions, fit
from bec_dap.models import MODELS, available_plugins
from bec_dap.requests import RequestHandler
from bec_dap.scandata import ScanDataReader

log = logging.getLogger(__name__)

#: Heartbeat name: stock's DAP server is ``DAPServer/<service id>``, its id the plugin class
#: name; clients find the plugins under ``user/dap/available_plugins/<that name>``.
SERVICE_NAME = "DAPServer/LmfitService1D"
#: Fits run in threads (lmfit holds the GIL only part of the time; the loop stays free).
FIT_WORKERS = 2
#: Requests handled at once (more wait; each still gets its answer).
MAX_CONCURRENT = 8
#: Attempts to publish the models again after Redis came back.
REPUBLISH_TRIES = 10


class DAPServer(Service):
    """Fits scan data with lmfit on request, and continuously while scans run."""

    name: ClassVar[str] = SERVICE_NAME

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.reader = ScanDataReader(self.connector)
        self._executor = ThreadPoolExecutor(max_workers=FIT_WORKERS, thread_name_prefix="dap-fit")
        self.requests = RequestHandler(self.connector, self.reader, self.run_fit)
        self.continuous = ContinuousFits(self.connector, self.reader, self.run_fit)
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._plugins = available_plugins()
        self.fits = 0

    async def run_fit(
        self, model: Any, data: FitData, options: FitOptions
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run one fit in the thread pool."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, fit, model, data, options)
        self.fits += 1
        return result

    async def publish_plugins(self) -> None:
        """SET the model descriptions where clients look for them."""
        await self.connector.set(
            MessageEndpoints.dap_available_plugins(SERVICE_NAME),
            AvailableResourceMessage(resource=self._plugins),
        )

    async def _republish_after_reconnect(self) -> None:
        # a Redis that restarted without persistence lost the key; the heartbeat alone would
        # announce a DAP server without models
        while True:
            await self.connector.wait_reconnected()
            for attempt in range(1, REPUBLISH_TRIES + 1):
                try:  # a pooled connection from before the restart fails once: try again
                    await self.publish_plugins()
                    log.info("models published again after Redis came back")
                    break
                except Exception as exc:
                    if attempt == REPUBLISH_TRIES:
                        log.error("could not publish the models after reconnecting: %s", exc)
                    await asyncio.sleep(0.1 * attempt)

    async def setup(self) -> None:
        """Publish the available models, follow requests and scans."""
        await self.publish_plugins()
        await self.connector.register(MessageEndpoints.dap_request(), self._on_request)
        await self.connector.register(MessageEndpoints.scan_status(), self._on_scan_status)
        await self.connector.register(MessageEndpoints.scan_segment(), self._on_segment)
        log.info("%d lmfit models available", len(MODELS))

    def _on_request(self, msg: MessageObject) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(msg.value), name="dap-request")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: Any) -> None:
        async with self._slots:
            if not isinstance(msg, DAPRequestMessage):
                log.error("ignored a %s on %s", type(msg).__name__, MessageEndpoints.dap_request())
                return
            if msg.dap_type == "on_demand":
                await self.requests.on_demand(msg)
                return
            try:
                await self.continuous.configure(msg)
            except DAPError as exc:
                await self.requests.reply(msg, success=False, error=str(exc))
                return
            await self.requests.reply(msg, success=True)

    def _on_scan_status(self, msg: MessageObject) -> None:
        if isinstance(msg.value, ScanStatusMessage):
            self.continuous.on_status(msg.value)

    def _on_segment(self, msg: MessageObject) -> None:
        self.continuous.on_points(msg.value if isinstance(msg.value, list) else [msg.value])

    async def main(self) -> None:
        """Run the continuous-fit loop (and re-announce the models after a reconnection) until stopped."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.continuous.run(), name="continuous-fits")
            group.create_task(self._republish_after_reconnect(), name="republish-models")

    async def shutdown(self) -> None:
        """Let requests in progress answer, then stop the fit threads."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.settings.timeouts.shutdown / 2)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def heartbeat_info(self) -> dict[str, Any]:
        """Heartbeat info plus request and fit counters."""
        info = super().heartbeat_info()
        info["dap"] = {
            "models": len(MODELS),
            "answered": self.requests.answered,
            "refused": self.requests.failed,
            "fits": self.fits,
            "continuous": self.continuous.config.stream_name if self.continuous.config else None,
            "continuous_published": self.continuous.published,
        }
        return info
