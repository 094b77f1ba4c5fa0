"""The ``stack`` fixture: redis-server, bec-device-server and bec-scan-server as processes (see bl_harness)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "scan_server"))

from bl_harness import DEVICES, FakeClient, Follower, servers_running
from ss_harness import device_server, scan_server
from stock_follower import stock_modules

from bec_core.redis_server import RedisServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    messages, bl_state_manager, builtin_actor_hli, endpoints, redis_connector = stock_modules(
        "messages", "bl_state_manager", "builtin_actor_hli", "endpoints", "redis_connector"
    )
    BeamlineStateManager = bl_state_manager.BeamlineStateManager
    ScanInterlockHli = builtin_actor_hli.ScanInterlockHli
    MessageEndpoints = endpoints.MessageEndpoints
    RedisConnector = redis_connector.RedisConnector
    tmp = tmp_path_factory.mktemp("beamline")
    devices = tmp / "devices.yaml"
    devices.write_text(DEVICES)
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    ds = device_server(redis.url, devices, tmp).start()
    ss = scan_server(redis.url, tmp).start()
    connector = RedisConnector(redis.address)
    follower = Follower()
    for name, ep in {
        "status": MessageEndpoints.scan_status(),
        "segment": MessageEndpoints.scan_segment(),
        "queue": MessageEndpoints.scan_queue_status(),
        "response": MessageEndpoints.scan_queue_request_response(),
        "alarm": MessageEndpoints.alarm(),
        "client_info": MessageEndpoints.client_info(),
        "notif": MessageEndpoints.builtin_actor_update_notif("ScanInterlockActor"),
        "ScanServer": MessageEndpoints.service_status("ScanServer"),
        "instruction_response": MessageEndpoints.device_instructions_response(),
    }.items():
        connector.register(ep, cb=follower.cb, name=name)
    env: dict[str, Any] = {
        "connector": connector,
        "follower": follower,
        "E": MessageEndpoints,
        "messages": messages,
        "ds": ds,
        "ss": ss,
    }
    try:
        # re-checked on every publication (heartbeats every 3 s)
        follower.wait_for(lambda: servers_running(connector, MessageEndpoints), "servers ready", timeout=60)
        client = FakeClient(connector)
        env["states"] = BeamlineStateManager(client)  # type: ignore[arg-type]
        env["interlock"] = ScanInterlockHli(client, None)  # type: ignore[arg-type]
        yield env
    finally:
        env.get("interlock") and env["interlock"].shutdown()
        connector.shutdown()
        ss.stop()
        ds.stop(signal.SIGKILL)
        redis.stop()
