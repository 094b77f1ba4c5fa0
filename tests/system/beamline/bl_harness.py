"""Helpers for the beamline system tests: a real stack driven by stock bec_lib 4.3.2.

The beamline-state and interlock tests talk to it as a stock client does: the
stock ``bl_state_manager.BeamlineStateManager`` and ``builtin_actor_hli.
ScanInterlockHli`` (they need only a client's ``connector``), the stock
``RedisConnector``, and stock message classes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from stock_follower import Follower as StockFollower
from stock_follower import stock_request

DEADLINE = 30.0

#: Small device set: an instant motor, a monitor, and the "beam" intensity (set on the device server).
DEVICES = (Path(__file__).resolve().parents[3] / "config" / "devices" / "interlock.yaml").read_text()


class Follower(StockFollower):
    """Keeps what stock bec_lib receives; tests wait on conditions with a deadline."""

    def queue_status(self) -> str | None:
        return self.msgs["queue"][-1].queue["primary"].status if self.msgs["queue"] else None

    def scan_ids(self) -> list[str]:
        return list(dict.fromkeys(m.scan_id for m in self.msgs["status"]))


class FakeClient:
    """What the stock beamline-state and interlock helpers use of a BECClient: its connector."""

    def __init__(self, connector: Any) -> None:
        self.connector = connector


def servers_running(connector: Any, endpoints: Any) -> bool:
    status = connector.get(endpoints.service_status("ScanServer"))
    return (
        status is not None
        and status.content["status"].value == 2
        and connector.get(endpoints.device_info("beam")) is not None
    )


def submit(env: dict[str, Any], scan_type: str, args: dict[str, list], **kwargs: Any) -> str:
    """Queue a request as a stock client does; returns its RID once accepted."""
    from bec_lib.device import DeviceBase

    messages, E, f = env["messages"], env["E"], env["follower"]
    msg = stock_request(messages, scan_type, {DeviceBase(name=n): v for n, v in args.items()}, **kwargs)
    rid = msg.metadata["RID"]
    env["connector"].send(E.scan_queue_request("default"), msg)
    response = f.wait_for(
        lambda: next((m for m in f.msgs["response"] if m.metadata.get("RID") == rid), None), "response"
    )
    assert response.accepted, response.message
    return rid


def entries(env: dict[str, Any], rid: str) -> list[Any]:
    """Every published state of the queue entry of request ``rid``."""
    return [
        e
        for m in env["follower"].msgs["queue"]
        for e in m.queue["primary"].info
        if e.request_blocks and e.request_blocks[0].RID == rid
    ]


def scan_id_of(env: dict[str, Any], rid: str) -> str:
    """The scan id of a queued scan request."""
    return env["follower"].wait_for(
        lambda: next((e.scan_id[0] for e in entries(env, rid) if e.scan_id[0]), None), "scan id"
    )


def wait_done(env: dict[str, Any], rid: str, what: str) -> None:
    """Wait until the request's queue entry is COMPLETED."""
    env["follower"].wait_for(lambda: any(e.status == "COMPLETED" for e in entries(env, rid)), what)


def set_device(env: dict[str, Any], device: str, value: float) -> None:
    """Change a device on the device server (the beamline itself: beam lost, beam back) and wait
    until the device server has done it (its reply to the instruction)."""
    messages, f = env["messages"], env["follower"]
    instr_id = str(uuid.uuid4())
    instr = messages.DeviceInstructionMessage(
        device=device,
        action="set",
        parameter={"value": value},
        metadata={"device_instr_id": instr_id},
    )
    env["connector"].xadd("internal/devices/instructions", {"data": instr})
    reply = f.wait_for(
        lambda: next(
            (
                m
                for m in f.msgs["instruction_response"]
                if m.instruction_id == instr_id and m.status in ("completed", "error")
            ),
            None,
        ),
        f"{device} set to {value}",
    )
    assert reply.status == "completed", reply
