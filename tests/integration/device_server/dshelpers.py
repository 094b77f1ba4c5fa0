"""Helpers of the device-server integration tests: in-process server, instruction requester."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import yaml
from bec_device_server.server import DeviceServer

from bec_core import messages
from bec_core.config import ServiceSettings, load_settings
from bec_core.endpoints import MessageEndpoints
from bec_core.redis_connector import AsyncRedisConnector

DEADLINE = 10.0
TEST_YAML = Path(__file__).resolve().parents[3] / "config" / "devices" / "test.yaml"


def device_set(**extra: dict[str, Any]) -> dict[str, Any]:
    """The raw test.yaml devices plus ``extra`` ones."""
    raw = yaml.safe_load(TEST_YAML.read_text())
    raw.update(extra)
    return raw


def settings_for(url: str, **timeouts: float) -> ServiceSettings:
    """Settings pointing at ``url`` with optional timeout overrides."""
    settings = load_settings(env={}, overrides={"redis": {"url": url}})
    for key, value in timeouts.items():
        setattr(settings.timeouts, key, value)
    return settings


class RunningServer:
    """A DeviceServer running as a task of the test's loop."""

    def __init__(self, server: DeviceServer) -> None:
        self.server = server
        self.task: asyncio.Task[int] | None = None

    async def start(self) -> RunningServer:
        self.task = asyncio.create_task(self.server.run(), name="device-server-under-test")
        ready = asyncio.create_task(self.server.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self.task}, timeout=DEADLINE, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            raise AssertionError(f"device server did not become ready (task done: {self.task.done()})")
        return self

    async def stop(self) -> int:
        assert self.task is not None
        self.server.request_stop("test over")
        return await asyncio.wait_for(self.task, DEADLINE)


class Requester:
    """Sends instructions on the stream and waits for their final replies (with deadlines)."""

    def __init__(self, conn: AsyncRedisConnector) -> None:
        self.conn = conn
        self.replies: dict[str, asyncio.Future[messages.DeviceInstructionResponse]] = {}
        self.running: list[messages.DeviceInstructionResponse] = []
        self.all: list[messages.DeviceInstructionResponse] = []

    async def start(self) -> Requester:
        await self.conn.register(MessageEndpoints.device_instructions_response(), self._on_reply)
        return self

    def _on_reply(self, msg: Any) -> None:
        reply = msg.value
        self.all.append(reply)
        if reply.status == "running":
            self.running.append(reply)
            return
        fut = self.replies.get(reply.instruction_id)
        if fut is not None and not fut.done():
            fut.set_result(reply)

    def expect(self, instr_id: str) -> asyncio.Future[messages.DeviceInstructionResponse]:
        fut = self.replies.get(instr_id)
        if fut is None:
            fut = self.replies[instr_id] = asyncio.get_running_loop().create_future()
        return fut

    async def send(self, device: Any, action: str, parameter: dict | None = None, **metadata: Any) -> str:
        instr_id = metadata.pop("device_instr_id", None) or str(uuid.uuid4())
        self.expect(instr_id)
        msg = messages.DeviceInstructionMessage(
            device=device,
            action=action,
            parameter=parameter or {},
            metadata={"device_instr_id": instr_id, **metadata},
        )
        await self.conn.xadd(MessageEndpoints.device_instructions(), {"data": msg}, max_size=10000)
        return instr_id

    async def reply(self, instr_id: str, timeout: float = DEADLINE) -> messages.DeviceInstructionResponse:
        return await asyncio.wait_for(asyncio.shield(self.expect(instr_id)), timeout)

    async def request(
        self,
        device: Any,
        action: str,
        parameter: dict | None = None,
        *,
        wait: float = DEADLINE,
        **metadata: Any,
    ) -> messages.DeviceInstructionResponse:
        """Send an instruction (``metadata`` as keywords) and wait up to ``wait`` s for its final reply."""
        return await self.reply(await self.send(device, action, parameter, **metadata), wait)
