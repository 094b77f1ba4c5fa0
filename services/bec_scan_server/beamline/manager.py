"""Evaluate the configured beamline states from the devices' readbacks, publish each on change.

Clients (stock ``bec.beamline_states.add(...)``) publish the whole list of
state configurations on ``user/available_beamline_states`` (a stream of length
one). For every state this module resolves the device reading it watches,
subscribes to that device's ``info/devices/readback/<root>`` (one subscription
per device, shared by its states) and, whenever the outcome changes, XADDs a
``BeamlineStateMessage`` to ``user/beamline_state/<name>`` (MAXLEN 1), as stock
does. A state whose configuration or device cannot be resolved is published as
``unknown`` with the reason as its label, and a WARNING alarm says why (once).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AlarmMessage,
    AvailableBeamlineStatesMessage,
    BeamlineStateConfig,
    BeamlineStateMessage,
    BlStateStatus,
    DeviceMessage,
    ErrorInfo,
)
from bec_core.redis_connector import AsyncRedisConnector, MessageObject
from bec_scan_server.beamline.catalog import DeviceCatalog, StateConfigError, Target
from bec_scan_server.beamline.states import DeviceStateParameters, StateType, parse

log = logging.getLogger(__name__)

#: Alarm severity of a state that cannot be evaluated (stock: Alarms.WARNING).
WARNING = 0


@dataclass(slots=True)
class RunningState:
    """One configured state: what it watches and what it last published."""

    config: BeamlineStateConfig
    kind: StateType | None = None
    params: DeviceStateParameters | None = None
    target: Target | None = None
    last: tuple[BlStateStatus, str] | None = None
    alarmed: bool = False


class BeamlineStates:
    """Follows the state configurations and the readbacks they need; publishes the states."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector
        self.catalog = DeviceCatalog(connector)
        self.states: dict[str, RunningState] = {}
        self.watched: set[str] = set()  #: root devices whose readback is subscribed
        self.published = 0  #: state publications so far (for tests and heartbeats)
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Replay the current configuration and follow its changes and device config changes."""
        await self.connector.register(
            MessageEndpoints.available_beamline_states(), self._on_configs, from_start=True
        )
        await self.connector.register(MessageEndpoints.device_config_update(), self._on_device_config)

    async def close(self) -> None:
        """Drop every subscription."""
        await self.connector.unregister(MessageEndpoints.available_beamline_states(), self._on_configs)
        await self.connector.unregister(MessageEndpoints.device_config_update(), self._on_device_config)
        for root in list(self.watched):
            await self.connector.unregister(MessageEndpoints.device_readback(root), self._on_reading)
        self.watched.clear()

    # ------------------------------------------------------------------ configuration
    async def _on_configs(self, msg: MessageObject) -> None:
        if not isinstance(msg.value, AvailableBeamlineStatesMessage):
            log.warning("ignoring %r on available_beamline_states", type(msg.value).__name__)
            return
        async with self._lock:
            await self.update(msg.value.states)

    async def _on_device_config(self, _msg: MessageObject) -> None:
        """Devices changed: resolve every state again (as stock restarts them all)."""
        async with self._lock:
            states = list(self.states.values())
            for state in states:
                await self._resolve(state)
            await self._sync_watches()
            for state in states:
                await self._first_value(state)

    async def update(self, configs: list[BeamlineStateConfig]) -> None:
        """Make the running states those of ``configs``: remove, add, restart the changed ones."""
        incoming = {c.name: c for c in configs}
        for name in set(self.states) - set(incoming):
            del self.states[name]
            log.info("beamline state %s removed", name)
        started = []
        for name, config in incoming.items():
            current = self.states.get(name)
            if current is not None and current.config == config:
                continue
            state = RunningState(config)
            if current is not None:
                state.last = current.last  # an unchanged outcome is not published again
            self.states[name] = state
            await self._resolve(state)
            started.append(state)
        await self._sync_watches()  # subscribed before the first read: no change falls in between
        for state in started:
            await self._first_value(state)

    async def _resolve(self, state: RunningState) -> None:
        state.alarmed = False
        state.target = None
        try:
            state.kind, state.params = parse(state.config.state_type, state.config.parameters)
            state.target = await self.catalog.resolve(
                state.params.name, state.params.device, state.params.signal
            )
        except StateConfigError as exc:
            await self._fail(state, str(exc))

    async def _first_value(self, state: RunningState) -> None:
        """Evaluate the cached readback (a device that has not moved publishes nothing new)."""
        if state.target is None:
            return
        reading = await self.connector.get(MessageEndpoints.device_readback(state.target.root))
        if isinstance(reading, DeviceMessage):
            await self._evaluate(state, reading.signals)

    async def _sync_watches(self) -> None:
        needed = {s.target.root for s in self.states.values() if s.target is not None}
        for root in self.watched - needed:
            await self.connector.unregister(MessageEndpoints.device_readback(root), self._on_reading)
        for root in needed - self.watched:
            await self.connector.register(MessageEndpoints.device_readback(root), self._on_reading)
        self.watched = needed

    # ------------------------------------------------------------------ evaluation
    async def _on_reading(self, msg: MessageObject) -> None:
        root = msg.topic.rsplit("/", 1)[-1]
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        reading = next((v for v in reversed(values) if isinstance(v, DeviceMessage)), None)
        if reading is None:
            return
        for state in list(self.states.values()):
            if state.target is not None and state.target.root == root:
                await self._evaluate(state, reading.signals)

    async def _evaluate(self, state: RunningState, signals: dict[str, Any]) -> None:
        assert state.kind is not None and state.target is not None
        try:
            status, label = state.kind.evaluate(state.params, state.target, signals)
        except Exception as exc:  # a reading the evaluation cannot handle: unknown, say why
            await self._fail(state, f"{type(exc).__name__}: {exc}")
            return
        await self._emit(state, status, label)

    async def _emit(self, state: RunningState, status: BlStateStatus, label: str) -> None:
        if state.last == (status, label):
            return
        state.last = (status, label)
        name = state.config.name
        await self.connector.xadd(
            MessageEndpoints.beamline_state(name),
            {"data": BeamlineStateMessage(name=name, status=status, label=label)},
            max_size=1,
            approximate=False,
        )
        self.published += 1
        log.info("beamline state %s: %s (%s)", name, status, label)

    async def _fail(self, state: RunningState, why: str) -> None:
        await self._emit(state, "unknown", why)
        if state.alarmed:
            return
        state.alarmed = True
        log.warning("beamline state %s cannot be evaluated: %s", state.config.name, why)
        info = ErrorInfo(error_message=why, compact_error_message=why, exception_type="StateConfigError")
        await self.connector.set_and_publish(
            MessageEndpoints.alarm(), AlarmMessage(severity=WARNING, info=info, metadata={})
        )
