"""System test (issue 13): a MAJOR alarm raised with stock bec_lib's ``raise_alarm`` stops the scan
it names, as stock BEC's scan server does; MINOR alarms leave scans running; the scan server's own
MAJOR alarms (for scans that already failed) stop nothing."""

from __future__ import annotations

import uuid

import pytest
from test_ss_system_bec_lib import modify, submit, system  # noqa: F401  (the stack fixture)

pytestmark = pytest.mark.system


def alarm(env: dict, severity: int, text: str, **metadata) -> None:
    from bec_lib.alarm_handler import Alarms

    info = env["messages"].ErrorInfo(
        id=str(uuid.uuid4()),
        error_message=f"Beamline: {text}",
        compact_error_message=text,
        exception_type="BeamlineAlarm",
        device=None,
    )
    env["connector"].raise_alarm(severity=Alarms(severity), info=info, metadata=metadata)


def end_of(env: dict, scan_id: str):
    f = env["follower"]
    return f.wait_for(
        lambda: next(
            (m for m in f.msgs["status"] if m.scan_id == scan_id and m.status in ("closed", "aborted")), None
        ),
        f"the end of {scan_id}",
    )


def long_scan(env: dict) -> tuple[str, str]:
    return submit(env, "line_scan", {"samx": [-5, 5]}, steps=400, exp_time=0.02, relative=False)


def test_minor_alarm_leaves_the_scan_running_and_major_aborts_it(system):  # noqa: F811
    f = system["follower"]
    _rid, scan_id = long_scan(system)
    f.wait_for(lambda: len(f.points(scan_id)) >= 2, "points")
    alarm(system, 1, "minor trouble")
    seen = len(f.points(scan_id))
    f.wait_for(lambda: len(f.points(scan_id)) > seen + 3, "points after the MINOR alarm")
    assert f.statuses(scan_id)[-1] == "open"
    alarm(system, 2, "beam lost")
    end = end_of(system, scan_id)
    assert (end.status, end.reason) == ("aborted", "alarm")
    assert "beam lost" in end.info["exit_note"]
    assert len(f.points(scan_id)) < 400


def test_major_alarm_for_a_pending_scan_cancels_it_and_pauses_nothing_else(system):  # noqa: F811
    f = system["follower"]
    _rid, running = long_scan(system)
    rid2, pending = submit(system, "line_scan", {"samx": [0, 1]}, steps=3, exp_time=0.0, relative=False)
    f.wait_for(lambda: len(f.points(running)) >= 2, "points")
    alarm(system, 2, "sample gone", scan_id=pending, queue="primary")

    def cancelled() -> bool:
        last = f.msgs["queue"][-1].queue["primary"]
        return all(e.request_blocks[0].RID != rid2 for e in last.info)

    f.wait_for(cancelled, "the pending scan left the queue")
    assert f.statuses(pending) == []
    assert f.statuses(running)[-1] == "open"  # the running scan goes on
    alarm(system, 2, "end it")
    assert end_of(system, running).reason == "alarm"


def test_major_alarm_with_more_requests_waiting_pauses_the_queue(system):  # noqa: F811
    f = system["follower"]
    _rid, running = long_scan(system)
    _rid2, waiting = submit(system, "line_scan", {"samx": [0, 1]}, steps=3, exp_time=0.0, relative=False)
    f.wait_for(lambda: len(f.points(running)) >= 2, "points")
    alarm(system, 2, "interlock")
    assert end_of(system, running).reason == "alarm"
    f.wait_for(lambda: f.msgs["queue"][-1].queue["primary"].status == "PAUSED", "queue PAUSED")
    assert f.statuses(waiting) == []
    modify(system, "continue")
    assert end_of(system, waiting).status == "closed"


def test_own_major_alarm_of_a_failed_scan_stops_nothing(system):  # noqa: F811
    f = system["follower"]
    # a scan that fails at once (limit violation) raises the scan server's own MAJOR alarm
    _rid, failed = submit(system, "line_scan", {"samx": [0, 1e9]}, steps=2, exp_time=0.0, relative=False)
    assert end_of(system, failed).status == "aborted"
    own = f.wait_for(
        lambda: [a for a in f.msgs["alarm"] if a.metadata.get("scan_id") == failed and a.severity == 2],
        "the scan server's alarm",
    )
    assert own[0].metadata.get("alarm_source") == "ScanServer"
    _rid2, after = submit(system, "line_scan", {"samx": [-5, 5]}, steps=100, exp_time=0.02, relative=False)
    f.wait_for(lambda: len(f.points(after)) >= 2, "points")
    # the scan server's alarm again, arriving late and without a scan id (as its alarm for a failed
    # move has): the running scan goes on
    late = {k: v for k, v in own[0].metadata.items() if k != "scan_id"}
    system["connector"].raise_alarm(severity=own[0].severity, info=own[0].info, metadata=late)
    assert end_of(system, after).status == "closed"
