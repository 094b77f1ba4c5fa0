"""Beamline states against real processes, configured and read by stock bec_lib 4.3.2.

Each state is added with stock ``bec.beamline_states.add(DeviceWithinLimitsStateConfig(...))``
(the stock manager, which waits for the first non-unknown value); devices move
through the scan queue (``umv``) or, for the beam, on the device server; the
value is read with the stock ``.get()``.
"""

from __future__ import annotations

from typing import Any

import pytest
from bl_harness import set_device, submit, wait_done

pytestmark = pytest.mark.system


def _umv(env: dict[str, Any], value: float) -> None:
    wait_done(env, submit(env, "umv", {"samx": [value]}, relative=False), f"umv samx {value}")


def _wait_state(env: dict[str, Any], name: str, expected: dict[str, str]) -> None:
    state = getattr(env["states"], name)
    last: dict[str, Any] = {}

    def check() -> bool:
        last.update(state.get())
        return last == expected

    env["follower"].wait_for(check, f"{name} == {expected} (last {last})")


def _stream_wait(env: dict[str, Any], name: str, expected: dict[str, str]) -> None:
    """Wait for a state value by following its stream with stock bec_lib (no polling)."""
    E, f, conn = env["E"], env["follower"], env["connector"]
    key = f"state_{name}"
    conn.register(E.beamline_state(name), cb=f.cb, name=key, from_start=True)
    try:
        f.wait_for(
            lambda: any({"status": m.status, "label": m.label} == expected for m in f.msgs[key]),
            f"{name} == {expected}",
        )
        assert getattr(env["states"], name).get() == expected  # stock's reader agrees
    finally:
        conn.unregister(E.beamline_state(name), cb=f.cb)
        f.msgs.pop(key, None)


def test_device_within_limits_with_hinted_signal(stack: dict[str, Any]) -> None:
    from bec_lib.bl_states import DeviceWithinLimitsStateConfig

    _umv(stack, 5)
    stack["states"].add(
        DeviceWithinLimitsStateConfig(
            name="samx_within_limits", device="samx", low_limit=-10, high_limit=10, tolerance=1
        )
    )
    assert stack["states"].samx_within_limits.get() == {
        "status": "valid",
        "label": "Device samx within limits",
    }
    _umv(stack, 20)
    _stream_wait(stack, "samx_within_limits", {"status": "invalid", "label": "Device samx out of limits"})
    _umv(stack, 9.5)
    _stream_wait(stack, "samx_within_limits", {"status": "warning", "label": "Device samx near limits"})
    _umv(stack, 0)
    _stream_wait(stack, "samx_within_limits", {"status": "valid", "label": "Device samx within limits"})


def test_update_parameters_and_delete(stack: dict[str, Any]) -> None:
    from bec_lib.bl_states import DeviceWithinLimitsStateConfig

    _umv(stack, 20)
    stack["states"].add(
        DeviceWithinLimitsStateConfig(name="samx_window", device="samx", low_limit=-10, high_limit=10)
    )
    assert stack["states"].samx_window.get() == {"status": "invalid", "label": "Device samx out of limits"}
    stack["states"].samx_window.update_parameters(low_limit=-5, high_limit=25)
    _stream_wait(stack, "samx_window", {"status": "valid", "label": "Device samx within limits"})
    stack["states"].delete("samx_window")
    assert not hasattr(stack["states"], "samx_window")
    _umv(stack, 0)


@pytest.mark.parametrize("signal", ["samx.readback", "samx_setpoint"], ids=["dotted", "obj_name"])
def test_explicit_signal(stack: dict[str, Any], signal: str) -> None:
    from bec_lib.bl_states import DeviceWithinLimitsStateConfig

    name = "samx_sig_" + signal.replace(".", "_")
    _umv(stack, 1)
    stack["states"].add(
        DeviceWithinLimitsStateConfig(name=name, device="samx", signal=signal, low_limit=0, high_limit=2)
    )
    _stream_wait(stack, name, {"status": "valid", "label": "Device samx within limits"})
    _umv(stack, 3)
    _stream_wait(stack, name, {"status": "invalid", "label": "Device samx out of limits"})
    stack["states"].delete(name)
    _umv(stack, 0)


def test_signal_device_follows_its_value(stack: dict[str, Any]) -> None:
    """The beam intensity: the state follows every change of it, made on the device server."""
    from bec_lib.bl_states import DeviceWithinLimitsStateConfig

    set_device(stack, "beam", 100.0)
    stack["states"].add(DeviceWithinLimitsStateConfig(name="beam_present", device="beam", low_limit=50))
    _stream_wait(stack, "beam_present", {"status": "valid", "label": "Device beam within limits"})
    set_device(stack, "beam", 10.0)
    _stream_wait(stack, "beam_present", {"status": "invalid", "label": "Device beam out of limits"})
    set_device(stack, "beam", 100.0)
    _stream_wait(stack, "beam_present", {"status": "valid", "label": "Device beam within limits"})
    stack["states"].delete("beam_present")


def test_unknown_device_is_unknown_with_alarm(stack: dict[str, Any]) -> None:
    """Published as stock does (status unknown, the reason as label) and a WARNING alarm."""
    from bec_lib.bl_states import DeviceWithinLimitsStateConfig

    mgr, f = stack["states"], stack["follower"]
    with pytest.raises(TimeoutError):  # stock's add() waits for a status other than unknown
        mgr.add(DeviceWithinLimitsStateConfig(name="ghost_ok", device="ghost", low_limit=0))
    expected = {"status": "unknown", "label": "[BL State ghost_ok]: Device 'ghost' not found."}
    assert mgr.ghost_ok.get() == expected
    f.wait_for(
        lambda: any("Device 'ghost' not found" in m.info.error_message for m in f.msgs["alarm"]), "alarm"
    )
    assert all(m.severity == 0 for m in f.msgs["alarm"] if "ghost" in m.info.error_message)
    mgr.delete("ghost_ok")
