"""Bad input on the beamline-state and interlock endpoints: a clear answer, and the service carries on."""

from __future__ import annotations

from typing import Any

import pytest
import redis

pytestmark = pytest.mark.system


def _publish(env: dict[str, Any], *configs: tuple[str, str, dict]) -> None:
    """XADD a state list as stock's client does, without its client-side checks."""
    messages, E = env["messages"], env["E"]
    states = [messages.BeamlineStateConfig(name=n, state_type=t, parameters=p) for n, t, p in configs]
    env["connector"].xadd(
        E.available_beamline_states(),
        {"data": messages.AvailableBeamlineStatesMessage(states=states)},
        max_size=1,
        approximate=False,
    )


def _follow(env: dict[str, Any], name: str) -> str:
    key = f"state_{name}"
    followed = env.setdefault("followed", set())
    if key not in followed:
        followed.add(key)
        env["connector"].register(
            env["E"].beamline_state(name), cb=env["follower"].cb, name=key, from_start=True
        )
    return key


def _has(env: dict[str, Any], key: str, status: str, label_part: str) -> bool:
    return any(m.status == status and label_part in m.label for m in env["follower"].msgs[key])


GOOD = ("samx_ok", "DeviceWithinLimitsState", {"name": "samx_ok", "device": "samx", "low_limit": -10.0})


@pytest.mark.parametrize(
    ("state_type", "parameters", "label_part"),
    [
        (
            "DeviceBeamlineState",
            {"name": "bad1", "device": "samx"},
            "is not a concrete beamline state (is abstract",
        ),
        ("NoSuchState", {"name": "bad2"}, "is not a concrete beamline state (is unknown"),
        (
            "DeviceWithinLimitsState",
            {"name": "bad3", "device": "samx", "colour": "red"},
            "colour: Extra inputs",
        ),
        (
            "DeviceWithinLimitsState",
            {"name": "bad4", "device": "samx", "signal": "nope"},
            "Signal 'nope' not found",
        ),
    ],
    ids=["abstract", "unknown_type", "extra_field", "unknown_signal"],
)
def test_bad_state_is_unknown_others_evaluated(
    stack: dict[str, Any], state_type: str, parameters: dict, label_part: str
) -> None:
    f = stack["follower"]
    name = parameters["name"]
    bad, good = _follow(stack, name), _follow(stack, "samx_ok")
    _publish(stack, (name, state_type, parameters), GOOD)
    f.wait_for(lambda: _has(stack, bad, "unknown", label_part), f"{name} unknown: {label_part}")
    f.wait_for(lambda: _has(stack, good, "valid", "Device samx within limits"), "the good state evaluated")
    f.wait_for(lambda: any(label_part in m.info.error_message for m in f.msgs["alarm"]), "a WARNING alarm")


def test_undecodable_config_is_skipped(stack: dict[str, Any]) -> None:
    f = stack["follower"]
    kwargs = stack["connector"]._redis_conn.connection_pool.connection_kwargs
    raw = redis.Redis(host=kwargs["host"], port=kwargs["port"])
    raw.xadd("user/available_beamline_states", {"data": b"\xc1 not msgpack"}, maxlen=1, approximate=False)
    raw.close()
    key = _follow(stack, "after_garbage")
    _publish(stack, ("after_garbage", "DeviceWithinLimitsState", {"name": "after_garbage", "device": "samx"}))
    f.wait_for(lambda: _has(stack, key, "valid", "Device samx within limits"), "a state after the garbage")


def test_interlock_refuses_a_state_that_does_not_exist(stack: dict[str, Any]) -> None:
    f, interlock = stack["follower"], stack["interlock"]
    seen = len(f.msgs["notif"])
    interlock.add_state_to_interlock("no_such_state", "valid")
    f.wait_for(lambda: len(f.msgs["notif"]) > seen, "the interlock answered")
    assert "no_such_state" not in interlock.states_watched


def test_interlock_ignores_a_wrong_message_and_carries_on(stack: dict[str, Any]) -> None:
    f, interlock, messages, E = stack["follower"], stack["interlock"], stack["messages"], stack["E"]
    stack["connector"].xadd(
        E.modify_interlock_table().endpoint, {"data": messages.VariableMessage(value="not a table change")}
    )
    _publish(stack, GOOD)
    seen = len(f.msgs["notif"])
    interlock.add_state_to_interlock("samx_ok", ["valid", "warning"])
    f.wait_for(lambda: len(f.msgs["notif"]) > seen, "the interlock answered")
    assert interlock.states_watched == {"samx_ok": ["valid", "warning"]}
    interlock.clear_all()
