"""The scan interlock against real processes, configured by stock ``bec.builtin_actors.scan_interlock``.

A beamline state watches the beam intensity; a line scan runs; the beam is
lost (changed on the device server) and comes back. ``pause_scan`` (ours):
the scan pauses at a point boundary and resumes by itself, every point exactly
once. ``restart_scan`` (stock's e2e ``test_scan_interlock``): the queue locks,
the scan is stopped, and when the beam is back a copy runs to ``closed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bl_harness import entries, scan_id_of, set_device, submit

pytestmark = pytest.mark.system

STEPS = 20


@pytest.fixture
def beam_state(stack: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """State ``beam_ok`` (beam >= 50) watched by the enabled interlock; everything undone afterwards."""
    from bec_lib.bl_states import DeviceWithinLimitsStateConfig

    f, interlock = stack["follower"], stack["interlock"]
    set_device(stack, "beam", 100.0)
    stack["states"].add(DeviceWithinLimitsStateConfig(name="beam_ok", device="beam", low_limit=50))
    assert stack["states"].beam_ok.get()["status"] == "valid"
    interlock.enabled = True
    assert interlock.enabled
    seen = len(f.msgs["notif"])
    interlock.add_state_to_interlock("beam_ok", "valid")
    f.wait_for(lambda: len(f.msgs["notif"]) > seen, "interlock table updated")
    assert interlock.states_watched == {"beam_ok": ["valid"]}
    yield stack
    set_device(stack, "beam", 100.0)
    seen = len(f.msgs["notif"])
    interlock.clear_all()
    f.wait_for(lambda: len(f.msgs["notif"]) > seen, "interlock table cleared")
    assert interlock.states_watched == {}
    interlock.enabled = False
    stack["states"].delete("beam_ok")


def _line_scan(env: dict[str, Any]) -> tuple[str, str]:
    rid = submit(env, "line_scan", {"samx": [-5, 5]}, steps=STEPS, exp_time=0.1, relative=False)
    return rid, scan_id_of(env, rid)


def _info_texts(env: dict[str, Any]) -> list[str]:
    return [m.message for m in env["follower"].msgs["client_info"]]


def test_pause_scan_pauses_and_resumes_by_itself(beam_state: dict[str, Any]) -> None:
    env, f = beam_state, beam_state["follower"]
    env["interlock"].trigger_setting = "pause_scan"
    assert env["interlock"].trigger_setting == "pause_scan"
    _rid, scan_id = _line_scan(env)
    f.wait_for(lambda: len(f.points(scan_id)) >= 3, "three points")
    set_device(env, "beam", 10.0)
    f.wait_for(lambda: "paused" in f.statuses(scan_id), "scan paused by the interlock")
    f.wait_for(lambda: f.queue_status() == "LOCKED", "queue locked")
    assert env["states"].beam_ok.get() == {"status": "invalid", "label": "Device beam out of limits"}
    f.wait_for(
        lambda: "Scan interlock triggered for beamline states: ['beam_ok']" in _info_texts(env),
        "the interlock's notice naming the state",
    )
    paused_at = len(f.points(scan_id))
    assert paused_at < STEPS
    set_device(env, "beam", 100.0)
    f.wait_for(lambda: "closed" in f.statuses(scan_id), "scan resumed and closed")
    assert f.statuses(scan_id) == ["open", "paused", "open", "closed"]
    assert f.points(scan_id) == list(range(STEPS))  # no point lost, none twice
    assert "Scan interlock cleared" in _info_texts(env)
    f.wait_for(lambda: f.queue_status() == "RUNNING", "queue running again")


def test_restart_scan_as_stock(beam_state: dict[str, Any]) -> None:
    env, f = beam_state, beam_state["follower"]
    env["interlock"].trigger_setting = "restart_scan"
    before = set(f.scan_ids())
    rid, scan_id = _line_scan(env)
    f.wait_for(lambda: len(f.points(scan_id)) >= 3, "three points")
    set_device(env, "beam", 10.0)
    f.wait_for(lambda: f.queue_status() == "LOCKED", "queue locked")
    f.wait_for(lambda: "aborted" in f.statuses(scan_id), "scan stopped")
    f.wait_for(lambda: any(e.status == "STOPPED" for e in entries(env, rid)), "queue entry STOPPED")
    set_device(env, "beam", 100.0)
    f.wait_for(lambda: f.queue_status() == "RUNNING", "queue running again")
    new = f.wait_for(
        lambda: [s for s in f.scan_ids() if s not in before and s != scan_id and "closed" in f.statuses(s)],
        "the restarted scan closed",
    )
    assert len(new) == 1
    assert f.points(new[0]) == list(range(STEPS))
    assert f.statuses(scan_id) == ["open", "aborted"]


def test_disabled_interlock_leaves_scans_alone(beam_state: dict[str, Any]) -> None:
    env, f, interlock = beam_state, beam_state["follower"], beam_state["interlock"]
    interlock.trigger_setting = "pause_scan"
    interlock.enabled = False
    set_device(env, "beam", 10.0)
    states = env["E"].beamline_state("beam_ok")
    f.wait_for(lambda: env["connector"].get_last(states)["data"].status == "invalid", "beam lost")
    _rid, scan_id = _line_scan(env)
    f.wait_for(lambda: "closed" in f.statuses(scan_id), "scan closed with the interlock disabled")
    assert f.statuses(scan_id) == ["open", "closed"]
    interlock.enabled = True  # enabling with the beam already lost locks at once
    f.wait_for(lambda: f.queue_status() == "LOCKED", "queue locked on enable")
    set_device(env, "beam", 100.0)
    f.wait_for(lambda: f.queue_status() == "RUNNING", "queue running again")
