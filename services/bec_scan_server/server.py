"""The scan server service: wires intake, queue manager, runner and device-server link together."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from bec_core.config import ServiceSettings
from bec_core.endpoints import MessageEndpoints
from bec_core.messages import VariableMessage
from bec_core.redis_connector.base import MessageObject
from bec_core.restate import Restater
from bec_core.service import Service
from bec_scan_server.alarms import AlarmStopper
from bec_scan_server.beamline import Beamline
from bec_scan_server.catalogue import ScanCatalogue
from bec_scan_server.devices import DeviceRegistry
from bec_scan_server.instructions import InstructionClient, Liveness
from bec_scan_server.intake import Intake
from bec_scan_server.manager import HISTORY_MAX, QueueManager
from bec_scan_server.numbers import NumberAllocator, warn_without_persistence
from bec_scan_server.publisher import DataPublisher
from bec_scan_server.recovery import recover_orphaned_scan
from bec_scan_server.restate import scan_server_keys
from bec_scan_server.runner import Runner
from bec_scan_server.stock_adapter.host import StockHost
from bec_scan_server.stock_adapter.paths import add_plugin_paths
from bec_scan_server.store import QueueStore

log = logging.getLogger(__name__)


class ScanServer(Service):
    """Accepts scan requests, queues them and runs them against the device server."""

    name: ClassVar[str] = "ScanServer"
    extra_heartbeats: ClassVar[tuple[str, ...]] = ("ScanBundler",)

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        conn = self.connector
        self.registry = DeviceRegistry(conn)
        self.liveness = Liveness(conn, settings.timeouts.heartbeat_expiry)
        self.instructions = InstructionClient(conn, settings.timeouts, self.liveness)
        self.numbers = NumberAllocator(conn)
        self.publisher = DataPublisher(
            conn, settings.scan_server.segment_expiry_s, settings.scan_server.public_segment_window
        )
        self.store = QueueStore(conn)
        self.runner = Runner(
            conn,
            self.instructions,
            self.registry,
            self.numbers,
            self.publisher,
            settings,
            on_change=self._queue_changed,
        )
        self.manager = QueueManager(conn, self.store, self.runner, settings)
        expiry = settings.scan_server.segment_expiry_s
        self.restater = Restater(
            conn,
            lambda: scan_server_keys(self.runner.last_status, self.manager.status_message(), expiry),
            "scan server",
        )
        add_plugin_paths(settings.scan_server.plugin_paths)  # stock bec_server, if given (decision 0006)
        self.stock_host = StockHost(
            settings.redis.tcp_url or settings.redis.url, str(settings.file_writer.base_path)
        )
        self.catalogue = ScanCatalogue(conn, host=self.stock_host)
        self.intake = Intake(
            conn, self.registry, self.manager, self.catalogue.scans, settings.scan_server.limits
        )
        self.alarms = AlarmStopper(conn, self.manager)
        self.beamline = Beamline(conn)

    async def _queue_changed(self) -> None:
        await self.manager.publish_status()

    async def setup(self) -> None:
        """Check persistence, learn devices and numbers, close an orphaned scan, publish the scans
        (plugins included), restore the queue."""
        await warn_without_persistence(self.connector)
        await self.registry.start()
        await self.instructions.start()
        self.restater.start()
        await self.liveness.start()
        await self.numbers.start()
        await recover_orphaned_scan(
            self.connector, self.instructions, self.settings.scan_server.segment_expiry_s, HISTORY_MAX
        )
        await self.connector.register(MessageEndpoints.account(), self._on_account)
        await self.catalogue.start()  # built-in and plugin scans (bec.scans entry points)
        await self.manager.restore(self.intake.build)
        await self.alarms.start()  # a MAJOR alarm stops the scan it names (as stock BEC)
        await self.intake.start()
        self.publisher.start()
        await self.beamline.start()

    def _on_account(self, msg: MessageObject) -> None:
        if isinstance(msg.value, VariableMessage) and isinstance(msg.value.value, str):
            self.numbers.account = msg.value.value

    async def main(self) -> None:
        """Run the queue workers and the request listener."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.manager.run(), name="queues")
            group.create_task(self.intake.listen(), name="request-intake")

    async def shutdown(self) -> None:
        """Halt a running scan (stop devices, unstage), leave queued requests in Redis."""
        await self.beamline.close()
        await self.manager.shutdown()
        try:
            await self.publisher.close()
        except Exception as exc:
            log.error("could not flush scan data at shutdown: %s", exc)
        self.liveness.close()
        await asyncio.to_thread(self.stock_host.close)

    def heartbeat_info(self) -> dict[str, Any]:
        """Heartbeat info plus queue counters."""
        info = super().heartbeat_info()
        info["queues"] = {n: len(q.pending) for n, q in self.manager.queues.items()}
        return info
