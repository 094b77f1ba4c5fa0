"""Helpers for scan-server tests: real processes, and a recorder of what the servers publish."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from service_proc import Proc

from bec_core.endpoints import EndpointInfo, MessageEndpoints
from bec_core.messages import BECStatus, ScanQueueMessage, StatusMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.base import MessageObject
from bec_core.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEADLINE = 20.0

TEST_DEVICES = (ROOT / "config" / "devices" / "test.yaml").read_text()
FAILING_DEVICE = """
failer:
  deviceClass: bec_device_server.sim.testing.SimFailing
  deviceConfig:
    fail_on: [read]
  readoutPriority: on_request
  enabled: true

disabled_mon:
  deviceClass: bec_device_server.sim.SimMonitor
  deviceConfig: null
  readoutPriority: monitored
  enabled: false
"""


def device_server(url: str, config: Path, log_dir: Path) -> Proc:
    """``bec-device-server --redis URL --config FILE``."""
    return Proc(
        [str(BIN / "bec-device-server"), "--redis", url, "--config", str(config)],
        log_dir / "ds.log",
        cwd=ROOT,
    )


def scan_server(
    url: str, log_dir: Path, service_config: Path | None = None, env: dict[str, str] | None = None
) -> Proc:
    """``bec-scan-server --redis URL`` (``env``: extra environment, e.g. PYTHONPATH for plugins)."""
    args = [str(BIN / "bec-scan-server"), "--redis", url]
    if service_config is not None:
        args += ["--service-config", str(service_config)]
    return Proc(args, log_dir / "ss.log", env, cwd=ROOT)


def write_devices(path: Path, extra: str = FAILING_DEVICE) -> Path:
    """The test device set plus a failing and a disabled device."""
    path.write_text(TEST_DEVICES + extra)
    return path


@contextmanager
def scan_stack(
    tmp: Path, config: Path, service_config: Path | None = None, ss_env: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """redis-server, ``bec-device-server`` (``config``) and ``bec-scan-server`` in ``tmp``.

    Yields a dict (``url``, ``redis``, ``ds``, ``ss``, ``tmp``, ``config``); a caller may add
    processes of its own. Afterwards every :class:`Proc` in it is stopped, newest first, its exit
    code kept as ``<name>_code``, and Redis is stopped.
    """
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    env: dict[str, Any] = {"url": redis.url, "redis": redis, "tmp": tmp, "config": config}
    try:
        env["ds"] = device_server(redis.url, config, tmp).start()
        env["ss"] = scan_server(redis.url, tmp, service_config, ss_env).start()
        yield env
    finally:
        for name, proc in reversed(list(env.items())):
            if isinstance(proc, Proc):
                env[f"{name}_code"] = proc.stop()
        redis.stop()


class Recorder:
    """Subscribes to endpoints and keeps every message; tests wait on conditions with a deadline."""

    def __init__(self, conn: AsyncRedisConnector) -> None:
        self.conn = conn
        self.msgs: dict[str, list[Any]] = defaultdict(list)
        self._changed = asyncio.Condition()

    async def follow(self, **endpoints: EndpointInfo) -> Recorder:
        """Record each endpoint under its keyword name."""
        for name, ep in endpoints.items():
            await self.conn.register(ep, self._cb, name=name)
        return self

    async def follow_stream(self, name: str, ep: EndpointInfo) -> Recorder:
        """Record a STREAM endpoint from its first entry (no race with entries added meanwhile)."""
        await self.conn.register(ep, self._cb, name=name, from_start=True)
        return self

    async def _cb(self, msg: MessageObject, name: str) -> None:
        values = msg.value if isinstance(msg.value, list) else [msg.value]
        async with self._changed:
            self.msgs[name].extend(values)
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
        """Wait until ``predicate()`` is truthy; fail naming ``what`` after ``timeout`` s."""

        async def check() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        try:
            return await asyncio.wait_for(check(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None

    # convenience views
    def statuses(self, scan_id: str) -> list[str]:
        """Scan statuses seen for one scan, in order."""
        return [m.status for m in self.msgs["scan_status"] if m.scan_id == scan_id]

    def segments(self, scan_id: str) -> list[Any]:
        """Segments of one scan."""
        return [m for m in self.msgs["segment"] if m.scan_id == scan_id]

    def response(self, rid: str) -> Any:
        """The request response for ``rid``, if any."""
        return next((m for m in self.msgs["response"] if m.metadata.get("RID") == rid), None)

    def queue_entries(self, rid: str) -> list[Any]:
        """Every queue-status view of the request ``rid`` (QueueInfoEntry), in order."""
        out = []
        for msg in self.msgs["queue"]:
            for queue in msg.queue.values():
                out += [e for e in queue.info if e.request_blocks and e.request_blocks[0].RID == rid]
        return out


def all_endpoints() -> dict[str, EndpointInfo]:
    """What a client follows."""
    return {
        "scan_status": MessageEndpoints.scan_status(),
        "segment": MessageEndpoints.scan_segment(),
        "queue": MessageEndpoints.scan_queue_status(),
        "response": MessageEndpoints.scan_queue_request_response(),
        "baseline": MessageEndpoints.scan_baseline(),
        "progress": MessageEndpoints.scan_progress(),
        "alarm": MessageEndpoints.alarm(),
        "order": MessageEndpoints.scan_queue_order_change_response(),
    }


async def wait_services(conn: AsyncRedisConnector, names: list[str], timeout: float = DEADLINE) -> None:
    """Wait until every named service's heartbeat says RUNNING."""
    rec = Recorder(conn)
    await rec.follow(**{n: MessageEndpoints.service_status(n) for n in names})

    def running(name: str) -> bool:
        return any(isinstance(m, StatusMessage) and m.status == BECStatus.RUNNING for m in rec.msgs[name])

    for name in names:
        current = await conn.get(MessageEndpoints.service_status(name))
        if isinstance(current, StatusMessage) and current.status == BECStatus.RUNNING:
            rec.msgs[name].append(current)
    await rec.wait_for(lambda: all(running(n) for n in names), f"services {names} RUNNING", timeout)
    for name in names:
        await conn.unregister(MessageEndpoints.service_status(name))


@asynccontextmanager
async def connected(url: str, services: list[str]) -> AsyncIterator[AsyncRedisConnector]:
    """A client connection to ``url`` once every named service runs; closed afterwards."""
    connector = await AsyncRedisConnector(url).connect()
    try:
        await wait_services(connector, services)
        yield connector
    finally:
        await connector.close()


def request(scan_type: str, args: Any = None, queue: str = "primary", **kwargs: Any) -> ScanQueueMessage:
    """A ScanQueueMessage as a stock client builds it."""
    kwargs.setdefault("system_config", {"file_suffix": None, "file_directory": None})
    return ScanQueueMessage(
        scan_type=scan_type,
        parameter={"args": args if args is not None else [], "kwargs": kwargs},
        queue=queue,
        metadata={
            "RID": str(uuid.uuid4()),
            "user_metadata": {},
            "client_info": {"acl_user": "default", "username": os.environ.get("USER", "x")},
        },
    )


async def submit(conn: AsyncRedisConnector, rec: Recorder, msg: ScanQueueMessage) -> Any:
    """Send a request and return the server's RequestResponseMessage."""
    await conn.send(MessageEndpoints.scan_queue_request("default"), msg)
    rid = msg.metadata["RID"]
    return await rec.wait_for(lambda: rec.response(rid), f"the response to {msg.scan_type} {rid}")


async def scan_id_of(rec: Recorder, rid: str) -> str:
    """The scan id the queue gave request ``rid``."""
    entry = await rec.wait_for(lambda: rec.queue_entries(rid), f"queue entry of {rid}")
    return entry[0].scan_id[0]
