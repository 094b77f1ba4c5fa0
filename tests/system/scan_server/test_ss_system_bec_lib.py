"""System test: Redis, ``bec-device-server`` (demo devices) and ``bec-scan-server`` from their entry points,
driven by stock bec_lib 4.3.2 exactly as a stock client drives BEC."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from ss_harness import ROOT, device_server, scan_server
from stock_follower import Follower as StockFollower
from stock_follower import stock_request

from bec_core.redis_server import RedisServer

pytestmark = pytest.mark.system
DEADLINE = 30.0
SERVICES = ("ScanServer", "ScanBundler", "DeviceServer")


class Follower(StockFollower):
    """Collects what stock bec_lib receives (its callbacks run in bec_lib's threads)."""

    def response(self, rid: str) -> Any:
        return next((m for m in self.msgs["response"] if m.metadata.get("RID") == rid), None)

    def scan_id(self, rid: str) -> str | None:
        for msg in self.msgs["queue"]:
            for entry in msg.queue["primary"].info:
                if entry.request_blocks and entry.request_blocks[0].RID == rid:
                    return entry.scan_id[0]
        return None


@pytest.fixture(scope="module")
def system(tmp_path_factory, bec_lib_modules):
    RedisConnector, Endpoints, messages, DeviceBase = bec_lib_modules
    tmp = tmp_path_factory.mktemp("scan-system")
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    ds = device_server(redis.url, ROOT / "config" / "devices" / "demo.yaml", tmp).start()
    ss = scan_server(redis.url, tmp).start()
    connector = RedisConnector(redis.address if hasattr(redis, "address") else redis.url)
    follower = Follower()
    for name, ep in {
        "status": Endpoints.scan_status(),
        "segment": Endpoints.scan_segment(),
        "queue": Endpoints.scan_queue_status(),
        "response": Endpoints.scan_queue_request_response(),
        "alarm": Endpoints.alarm(),
        **{svc: Endpoints.service_status(svc) for svc in SERVICES},
    }.items():
        connector.register(ep, cb=follower.cb, name=name)
    env = {
        "connector": connector,
        "follower": follower,
        "ds": ds,
        "ss": ss,
        "E": Endpoints,
        "messages": messages,
        "Device": DeviceBase,
    }
    try:
        for svc in SERVICES:
            current = connector.get(Endpoints.service_status(svc))
            if current is not None:
                follower.cb(type("M", (), {"value": current})(), svc)
            follower.wait_for(lambda s=svc: _running(follower, s), f"{svc} RUNNING")
        yield env
    finally:
        connector.shutdown()
        env["ss_code"] = ss.stop()
        ds.stop(signal.SIGKILL)
        redis.stop()


def _running(follower: Follower, name: str) -> bool:
    return any(m.content["status"].value == 2 for m in follower.msgs[name])


def submit(env: dict, scan_type: str, args: Any, **kwargs: Any) -> tuple[str, str]:
    """Send a request as a stock client does; return (RID, scan_id)."""
    response = send_request(env, scan_type, args, **kwargs)
    assert response.accepted, response.message
    rid = response.metadata["RID"]
    follower = env["follower"]
    scan_id = follower.wait_for(lambda: follower.scan_id(rid), "queue entry")
    return rid, scan_id


def send_request(env: dict, scan_type: str, args: Any, **kwargs: Any) -> Any:
    """Send a request as a stock client does; return the RequestResponseMessage."""
    messages, Device, E = env["messages"], env["Device"], env["E"]
    if isinstance(args, dict):
        args = {Device(name=name): values for name, values in args.items()}
    msg = stock_request(messages, scan_type, args, **kwargs)
    rid = msg.metadata["RID"]
    env["connector"].send(E.scan_queue_request("default"), msg)
    follower = env["follower"]
    return follower.wait_for(lambda: follower.response(rid), f"response to {scan_type}")


def modify(env: dict, action: str, **kwargs: Any) -> None:
    msg = env["messages"].ScanQueueModificationMessage(action=action, parameter={}, queue="primary", **kwargs)
    env["connector"].send(env["E"].scan_queue_modification_request(), msg)


def test_line_scan_with_stock_bec_lib(system):
    f = system["follower"]
    rid, scan_id = submit(system, "line_scan", {"samx": [-5, 5]}, steps=10, exp_time=0, relative=False)
    f.wait_for(lambda: "closed" in f.statuses(scan_id), "closed")
    assert f.statuses(scan_id) == ["open", "closed"]
    assert f.points(scan_id) == list(range(10))
    closed = next(m for m in f.msgs["status"] if m.scan_id == scan_id and m.status == "closed")
    assert closed.num_monitored_readouts == 10 and closed.scan_name == "line_scan"
    seg = next(m for m in f.msgs["segment"] if m.scan_id == scan_id)
    assert "samx" in seg.data and len(seg.data) > 5  # the demo's monitored devices
    entries = [e for m in f.msgs["queue"] for e in m.queue["primary"].info if e.request_blocks[0].RID == rid]
    assert entries[0].request_blocks[0].report_instructions
    f.wait_for(
        lambda: any(
            e.status == "COMPLETED"
            for m in f.msgs["queue"]
            for e in m.queue["primary"].info
            if e.request_blocks[0].RID == rid
        ),
        "COMPLETED",
    )
    available = system["connector"].get(system["E"].available_scans())
    assert {"line_scan", "umv", "device_rpc"} <= set(available.resource)


def test_pause_resume_abort_with_stock_bec_lib(system):
    f = system["follower"]
    _rid, scan_id = submit(system, "line_scan", {"samx": [-5, 5]}, steps=200, exp_time=0.02, relative=False)
    f.wait_for(lambda: len(f.points(scan_id)) >= 2, "points")
    modify(system, "pause")
    f.wait_for(lambda: "paused" in f.statuses(scan_id), "paused")
    modify(system, "continue")
    f.wait_for(lambda: f.statuses(scan_id)[-1] == "open", "open again")
    modify(system, "abort", scan_id=scan_id)
    f.wait_for(lambda: "aborted" in f.statuses(scan_id), "aborted")
    aborted = next(m for m in f.msgs["status"] if m.scan_id == scan_id and m.status == "aborted")
    assert aborted.reason == "user"
    assert f.points(scan_id) == list(range(len(f.points(scan_id))))
    modify(system, "continue")  # an abort with nothing left pauses nothing, but be explicit


def test_config_change_with_stock_config_helper(system):
    """``ConfigHelper.send_config_request`` returns only once DeviceServer *and* ScanServer acknowledged."""
    from bec_lib.config_helper import ConfigHelper

    helper = ConfigHelper(system["connector"])
    rid = helper.send_config_request("update", {"samx": {"enabled": False}}, timeout_s=DEADLINE)
    acks = system["connector"].lrange(system["E"].service_response(rid), 0, -1)
    assert {a.content["response"]["service"] for a in acks} >= {"DeviceServer", "ScanServer"}
    response = send_request(system, "line_scan", {"samx": [0, 1]}, steps=3, relative=False)
    assert not response.accepted and "samx: device is disabled" in response.message
    helper.send_config_request("update", {"samx": {"enabled": True}}, timeout_s=DEADLINE)
    f = system["follower"]
    _rid, scan_id = submit(system, "line_scan", {"samx": [0, 1]}, steps=3, relative=False)
    f.wait_for(lambda: "closed" in f.statuses(scan_id), "a scan on the re-enabled samx")


def test_device_server_killed_mid_scan(system):
    f = system["follower"]
    _rid, scan_id = submit(system, "line_scan", {"samx": [-5, 5]}, steps=500, exp_time=0.02, relative=False)
    f.wait_for(lambda: len(f.points(scan_id)) >= 2, "points")
    system["ds"].stop(signal.SIGKILL)
    f.wait_for(lambda: "aborted" in f.statuses(scan_id), "aborted after the device server died")
    aborted = next(m for m in f.msgs["status"] if m.scan_id == scan_id and m.status == "aborted")
    assert aborted.reason == "alarm"
    assert "device server" in aborted.info["exit_note"]
    alarm = f.wait_for(lambda: [a for a in f.msgs["alarm"] if a.metadata.get("scan_id") == scan_id], "alarm")
    assert alarm[0].content["severity"] == 2
    assert system["ss"].stop() == 0  # the scan server stays healthy and stops cleanly
