"""The simulated devices on their own (no Redis, no server)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from bec_device_server.info import device_info
from bec_device_server.sim import SimCamera, SimFailing, SimMonitor, SimPositioner
from ophyd.utils import LimitError

WAIT = 10.0


def finished(status) -> threading.Event:
    event = threading.Event()
    status.add_callback(lambda _st: event.set())
    return event


def test_positioner_signals_and_kinds() -> None:
    samx = SimPositioner(name="samx", delay=0, limits=[-50, 50])
    assert list(samx.read()) == ["samx", "samx_setpoint", "samx_motor_is_moving"]
    assert set(samx.read_configuration()) >= {"samx_velocity", "samx_tolerance"}
    assert samx.hints == {"fields": ["samx"]}
    assert samx.limits == (-50.0, 50.0)


def test_instant_move() -> None:
    samx = SimPositioner(name="samx", delay=0)
    status = samx.set(3.5)
    assert status.done and status.success
    assert samx.read()["samx"]["value"] == 3.5
    assert samx.read()["samx_setpoint"]["value"] == 3.5


def test_instant_moves_answer_with_a_finished_status_whose_callbacks_run_at_once() -> None:
    """Without a settle time every instant move hands back one finished status: a callback added
    later runs at once, a failed move elsewhere does not touch it. With a settle time each move
    gets a status of its own that finishes only after it."""
    samx = SimPositioner(name="samx", delay=0)
    first, second = samx.set(1.0), samx.set(2.0)
    assert first.done and first.success and first.exception() is None
    ran = []
    second.add_callback(ran.append)
    assert ran == [second]
    assert samx.position == 2.0
    with pytest.raises(ValueError):
        samx.set(float("nan"))
    assert samx.set(3.0).success
    settling = SimPositioner(name="settling", delay=0, settle_time=0.05)
    one, two = settling.set(1.0), settling.set(2.0)
    assert one is not two
    assert finished(two).wait(WAIT) and two.success


def test_moves_register_no_traceback_and_leave_no_callbacks(monkeypatch) -> None:
    """With ophyd_devices imported (it replaces ophyd's subscribe by one that takes a traceback per
    registration), our positioner still subscribes through ophyd's own: a move takes no stack
    trace, and a thousand moves leave no callbacks behind."""
    import traceback

    import ophyd_devices  # noqa: F401  (installs its subscribe patch)
    from ophyd.ophydobj import OphydObject

    assert getattr(OphydObject.subscribe, "_ophyd_devices_callback_patch", False)
    samx = SimPositioner(name="samx", delay=0)
    samx.set(0.5)
    registered = sum(len(cbs) for cbs in samx._callbacks.values())
    taken = []
    monkeypatch.setattr(traceback, "extract_stack", lambda *a, **k: taken.append(a) or [])
    moved = []
    for i in range(1000):
        status = samx.move(float(i), moved_cb=lambda status, obj=None: moved.append(obj))
        assert status.done and status.success
    assert taken == []
    assert len(moved) == 1000
    assert sum(len(cbs) for cbs in samx._callbacks.values()) == registered


def test_limits_raise_limit_error() -> None:
    samx = SimPositioner(name="samx", delay=0, limits=[-5, 5])
    with pytest.raises(LimitError, match="samx"):
        samx.set(6)
    with pytest.raises(TypeError, match="number"):
        samx.set("far")
    assert samx.position == 0.0


def test_timed_move_completes_through_status_and_fires_readback() -> None:
    samy = SimPositioner(name="samy", delay=1, velocity=50, update_frequency=100)
    seen: list[float] = []
    samy.subscribe(lambda value, **_kw: seen.append(value), event_type=samy.SUB_READBACK, run=False)
    status = samy.set(2.0)
    assert not status.done  # the move runs in its own thread
    assert finished(status).wait(WAIT)
    assert status.success and samy.position == 2.0
    assert len(seen) >= 3 and seen[-1] == 2.0
    assert samy.motor_is_moving.get() == 0


def test_stop_fails_the_status() -> None:
    slow = SimPositioner(name="slow", delay=1, velocity=0.01, update_frequency=10)
    status = slow.set(10)
    slow.stop()
    assert finished(status).wait(WAIT)
    assert not status.success and slow.position < 10


def test_settle_time_delays_completion() -> None:
    samx = SimPositioner(name="samx", delay=0, settle_time=0.05)
    status = samx.set(1)
    assert finished(status).wait(WAIT) and status.success


def test_monitor_constant_and_gaussian() -> None:
    plain = SimMonitor(name="bpm4a")
    value = plain.read()["bpm4a"]["value"]
    assert 0 <= value <= 10  # constant 0 plus uniform noise x10
    samx = SimPositioner(name="samx", delay=0)
    lookup = {"samx": samx}
    peak = SimMonitor(
        name="bpm4i",
        model="gaussian",
        ref_motor="samx",
        sigma=1.0,
        amplitude=100,
        noise="none",
        device_manager=lookup,
    )
    assert peak.read()["bpm4i"]["value"] == 100.0
    samx.set(1.0)
    assert peak.read()["bpm4i"]["value"] == pytest.approx(100 * np.exp(-0.5), abs=1e-3)
    samx.set(10.0)
    assert peak.read()["bpm4i"]["value"] < 1e-3
    assert peak.hints == {"fields": ["bpm4i"]}


def test_monitor_poisson_and_sim_init() -> None:
    mon = SimMonitor(
        name="diode",
        sim_init={"model": "GaussianModel", "params": {"amplitude": 50, "c": 2}, "noise": "poisson"},
    )
    assert mon.sim_parameters["model"] == "gaussian" and mon.sim_parameters["offset"] == 2
    assert float(mon.read()["diode"]["value"]).is_integer()
    with pytest.raises(ValueError, match="unknown model"):
        SimMonitor(name="x", model="lorentz")


def test_camera_frame_shape_and_trigger() -> None:
    cam = SimCamera(name="eiger")
    frame = cam.read()["eiger_image"]["value"]
    assert isinstance(frame, np.ndarray) and frame.shape == (64, 64)
    cam2 = SimCamera(name="cam2", image_shape=[16, 32], exp_time=0.01)
    assert cam2.read()["cam2_image"]["value"].shape == (16, 32)
    assert cam2.describe()["cam2_image"]["shape"] == [16, 32]
    status = cam2.trigger()
    assert finished(status).wait(WAIT) and status.success
    cam2.on_scan_open({"scan_parameters": {"exp_time": 0.2, "frames_per_trigger": 3}})
    assert cam2.exp_time.get() == 0.2 and cam2.frames.get() == 3
    pending = cam2.trigger()
    cam2.stop()
    assert finished(pending).wait(WAIT) and not pending.success


def test_failing_device() -> None:
    dev = SimFailing(name="bad", fail_on=["read"])
    with pytest.raises(RuntimeError, match="simulated"):
        dev.read()
    once = SimFailing(name="flaky", fail_reads=1)
    with pytest.raises(RuntimeError):
        once.read()
    assert once.read()["flaky"]["value"] == 0.0
    with pytest.raises(RuntimeError, match="__init__"):
        SimFailing(name="broken", fail_on=["init"])
    assert not SimFailing(name="hang", hang_on=["set"]).set(1).done


@pytest.mark.parametrize(
    ("obj", "base"),
    [
        (SimPositioner(name="samx", delay=0), "positioner"),
        (SimMonitor(name="bpm4i"), "device"),
        (SimCamera(name="eiger"), "device"),
    ],
)
def test_device_info_schema(obj, base: str) -> None:
    info = device_info(obj)
    assert info["device_base_class"] == base
    assert info["device_class"] == type(obj).__name__
    for key in (
        "signals",
        "hints",
        "describe",
        "describe_configuration",
        "sub_devices",
        "custom_user_access",
    ):
        assert key in info
    for entry in info["signals"].values():
        assert {"obj_name", "kind_str", "describe"} <= set(entry)
    from bec_core.serialization import dumps

    dumps(info)  # must be encodable
