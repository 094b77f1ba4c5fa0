"""Beamline states and the built-in scan interlock, hosted by the scan server (as stock BEC 4.3.2).

:class:`Beamline` is the one object the scan server creates: it owns the state
evaluator (:mod:`.manager`) and the interlock actor (:mod:`.interlock`), both
talking only through Redis.
"""

from __future__ import annotations

from bec_core.redis_connector import AsyncRedisConnector
from bec_scan_server.beamline.interlock import ScanInterlock
from bec_scan_server.beamline.manager import BeamlineStates


class Beamline:
    """Beamline states plus the scan interlock; ``start()`` in setup, ``close()`` at shutdown."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.states = BeamlineStates(connector)
        self.interlock = ScanInterlock(connector)

    async def start(self) -> None:
        """Follow the state configurations and the interlock's settings."""
        await self.states.start()
        await self.interlock.start()

    async def close(self) -> None:
        """Stop following (the interlock's lock is left in place only while it is enabled)."""
        await self.interlock.close()
        await self.states.close()


__all__ = ["Beamline", "BeamlineStates", "ScanInterlock"]
