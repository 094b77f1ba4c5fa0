"""Every scan type through stock bec_lib's own request builder, against our servers (real processes).

Requests are made by stock ``Scans.prepare_scan_request`` (its ScanInputValidator
checks the arguments against the ``available_scans`` our scan server published),
with the arguments stock BEC's own e2e suite uses (test_fixed_point_scans_lib,
test_cont_line_scan_lib, test_line_sweep_scan_lib, test_limit_error). The
number of points and the published positions are compared with stock's
``bec_lib.position_generators`` for the same arguments.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from test_ss_system_bec_lib import send_request, system  # noqa: F401  (system: the stack fixture)

pytestmark = pytest.mark.system

pg = pytest.importorskip("bec_lib.position_generators")

CASES: list[tuple[str, tuple, dict, Any]] = [
    ("acquire", (), {"exp_time": 0.01, "burst_at_each_point": 3}, None),
    (
        "line_scan",
        ("samx", -1, 1),
        {"steps": 4, "relative": False},
        lambda: pg.line_scan_positions([(-1, 1)], 4),
    ),
    (
        "grid_scan",
        ("samx", -1, 1, 3, "samy", -1, 1, 2),
        {"relative": False},
        lambda: pg.nd_grid_positions([(-1, 1, 3), (-1, 1, 2)]),
    ),
    (
        "list_scan",
        ("samx", [0, 0.5, 1.0], "samy", [0, -0.5, -1.0]),
        {"relative": False},
        lambda: np.array([[0, 0], [0.5, -0.5], [1.0, -1.0]]),
    ),
    (
        "log_scan",
        ("samx", 1, 10),
        {"steps": 4, "relative": False},
        lambda: pg.log_scan_positions([(1, 10)], 4),
    ),
    (
        "fermat_scan",
        ("samx", -1, 1, "samy", -1, 1),
        {"step": 1.0, "relative": False},
        lambda: pg.fermat_spiral_pos(-1, 1, -1, 1, step=1.0),
    ),
    (
        "hexagonal_scan",
        ("samx", -1, 1, 1, "samy", -1, 1, 1),
        {"relative": False},
        lambda: pg.hex_grid_2d([(-1, 1, 1), (-1, 1, 1)], snaked=True),
    ),
    (
        "multi_region_line_scan",
        ("samx",),
        {"regions": [(-1, 0, 2), (1, 2, 2)], "relative": False},
        lambda: pg.multi_region_line_positions([(-1, 0, 2), (1, 2, 2)]),
    ),
    (
        "multi_region_grid_scan",
        ("samx", "samy"),
        {"regions": [((-1, 0, 2), (-1, 0, 2)), ((1, 2, 2), (1, 2, 2))], "relative": False},
        lambda: pg.multi_region_grid_positions(
            [((-1, 0, 2), (-1, 0, 2)), ((1, 2, 2), (1, 2, 2))], snaked=True
        ),
    ),
    (
        "round_scan",
        ("samx", "samy", 0.0, 2.0, 2, 3),
        {"relative": False},
        lambda: pg.round_scan_positions(0.0, 2.0, 2, 3),
    ),
    (
        "round_roi_scan",
        ("samx", -1.0, 1.0, "samy", -1.0, 1.0),
        {"shell_spacing": 1.0, "pos_in_first_ring": 3, "relative": False},
        lambda: pg.get_round_roi_scan_positions(-1.0, 1.0, -1.0, 1.0, 1.0, 3),
    ),
    ("time_scan", (), {"points": 3, "interval": 0.05, "exp_time": 0.01}, None),
    (
        "cont_line_scan",
        ("samx", 0.0, 0.2),
        {"steps": 3, "exp_time": 0.01, "relative": False},
        lambda: np.linspace(0.0, 0.2, 3)[:, None],
    ),
]
EXPECTED_READOUTS = {"acquire": 3, "time_scan": 3}


def stock_request(env: dict, name: str, *args: Any, **kwargs: Any) -> Any:
    """Build and send a request with stock ``Scans.prepare_scan_request``; wait for its response."""
    from bec_lib.scan_input_validator import ScanInputValidator
    from bec_lib.scans import Scans

    E, Device, follower = env["E"], env["Device"], env["follower"]
    info = env["connector"].get(E.available_scans()).resource[name]
    args = tuple(Device(name=a) if a in ("samx", "samy") else a for a in args)
    kwargs.setdefault("system_config", {"file_suffix": None, "file_directory": None})
    holder = SimpleNamespace(_input_validator=ScanInputValidator())
    msg = Scans.prepare_scan_request(holder, name, info, *args, **kwargs)
    rid = str(uuid.uuid4())
    msg.metadata.update(RID=rid, client_info={"acl_user": "default", "username": "tester", "hostname": "h"})
    env["connector"].send(E.scan_queue_request("default"), msg)
    return follower.wait_for(lambda: follower.response(rid), f"response to {name}")


def _closed(env: dict, response: Any) -> Any:
    f = env["follower"]
    assert response.accepted, response.message
    scan_id = f.wait_for(lambda: f.scan_id(response.metadata["RID"]), "queue entry")
    final = f.wait_for(
        lambda: next(
            (m for m in f.msgs["status"] if m.scan_id == scan_id and m.status in ("closed", "aborted")), None
        ),
        "closed",
    )
    assert final.status == "closed", final.info.get("exit_note")
    return final


def set_velocity(env: dict, motor: str, value: float) -> None:
    """``dev.samx.velocity.set(value)`` as the stock client sends it (a queued device_rpc)."""
    response = send_request(
        env,
        "device_rpc",
        [],
        device=motor,
        func="velocity.set",
        func_args=[value],
        func_kwargs={},
        rpc_id=str(uuid.uuid4()),
    )
    assert response.accepted, response.message


@pytest.mark.parametrize(("name", "args", "kwargs", "positions"), CASES, ids=[c[0] for c in CASES])
def test_scan_through_stock_request_builder(system, name, args, kwargs, positions):  # noqa: F811
    if name == "cont_line_scan":  # as stock's e2e test: velocity 1 (the queue runs the rpc first)
        set_velocity(system, "samx", 1.0)
    closed = _closed(system, stock_request(system, name, *args, **kwargs))
    f = system["follower"]
    points = f.points(closed.scan_id)
    if positions is not None:
        expected = np.asarray(positions(), dtype=float)
        assert closed.num_points == len(expected) == len(points), name
        np.testing.assert_allclose(np.asarray(closed.info["positions"]), expected, atol=1e-9)
    else:
        assert len(points) == EXPECTED_READOUTS[name] == closed.num_monitored_readouts
    assert points == list(range(len(points)))


def test_line_sweep_scan_reads_while_the_motor_moves(system):  # noqa: F811
    set_velocity(system, "samx", 5.0)
    closed = _closed(
        system, stock_request(system, "line_sweep_scan", "samx", -5.0, 5.0, min_update=0.05, relative=False)
    )
    points = system["follower"].points(closed.scan_id)
    assert len(points) > 0 and points == list(range(len(points)))


def test_limit_error_alarms_as_stock(system):  # noqa: F811
    f = system["follower"]
    for name, args, kwargs in (
        ("line_scan", ("samx", -520, 5), {"steps": 200, "exp_time": 0.1, "relative": False}),
        ("umv", ("samx", 500), {"relative": False}),
        ("mv", ("samx", 1000), {"relative": False}),
    ):
        response = stock_request(system, name, *args, **kwargs)
        assert response.accepted, response.message
        rid = response.metadata["RID"]
        alarm = f.wait_for(
            lambda r=rid: next((a for a in f.msgs["alarm"] if a.metadata.get("RID") == r), None),
            f"{name} alarm",
        )
        from bec_lib.alarm_handler import AlarmBase, Alarms

        raised = AlarmBase(alarm, Alarms(alarm.severity))
        assert raised.alarm_type == "LimitError" and alarm.info.device == "samx"


def test_scan_abort_as_the_stock_ipython_client_does_it(system):  # noqa: F811
    """e2e test_scan_abort (F8): deferred pause, abort by request id, a refused second abort; the stock
    client's scan storage must see the scan leave "open" (it ends "aborted"), the relative scan's motor
    back at its start."""
    from bec_lib.scan_manager import ScanManager

    env, f = system, system["follower"]
    manager = ScanManager(env["connector"])
    update = manager.scan_storage.update_with_scan_status

    def update_and_notify(msg: Any) -> None:  # the storage has no event of its own: announce its updates
        update(msg)
        with f.cond:
            f.cond.notify_all()

    manager.scan_storage.update_with_scan_status = update_and_notify  # type: ignore[method-assign]
    start = env["connector"].get(env["E"].device_readback("samx")).content["signals"]["samx"]["value"]
    response = stock_request(env, "line_scan", "samx", -5, 5, steps=200, exp_time=0.1, relative=True)
    assert response.accepted, response.message
    rid = response.metadata["RID"]
    scan_id = f.wait_for(lambda: f.scan_id(rid), "queue entry")
    f.wait_for(lambda: len(f.points(scan_id)) > 10, "more than 10 points")
    manager.request_scan_interruption(deferred_pause=True, request_id=rid)
    f.wait_for(
        lambda: any(e.status == "DEFERRED_PAUSE" for m in f.msgs["queue"] for e in m.queue["primary"].info),
        "DEFERRED_PAUSE in the queue",
    )
    manager.request_scan_abortion(request_id=rid)
    f.wait_for(lambda: "aborted" in f.statuses(scan_id), "aborted")
    manager.request_scan_abortion()  # nothing runs any more: refused, the server carries on

    def storage_status() -> str | None:
        item = manager.scan_storage.find_scan_by_ID(scan_id)
        return item.status if item is not None and item.status != "open" else None

    assert f.wait_for(storage_status, "the stock scan storage leaving 'open'") == "aborted"
    assert manager.scan_storage.storage[0].scan_id == scan_id
    now = env["connector"].get(env["E"].device_readback("samx")).content["signals"]["samx"]["value"]
    assert abs(now - start) < 0.05
