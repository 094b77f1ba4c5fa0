"""Our message classes against the stock bec_lib 4.3.x: names, field order, required fields.

Skipped when bec_lib is not installed, except under CI (environment variable
``CI`` set), where its absence is a failure.
"""

from __future__ import annotations

import inspect
import os

import pytest

from bec_core import messages
from bec_core.endpoints import MessageEndpoints, MessageOp
from bec_core.messages import ENUMS, HELPER_MODELS, MESSAGE_CLASSES

if os.environ.get("CI"):
    import bec_lib.messages as bec_messages
else:
    bec_messages = pytest.importorskip("bec_lib.messages")

pytestmark = pytest.mark.interop

OURS = sorted(MESSAGE_CLASSES)
HELPERS = sorted(HELPER_MODELS)

#: Defaults that differ per call (time, uuid) or per installation.
_VOLATILE_DEFAULTS = {"timestamp", "id", "versions"}


def _required(cls: type) -> set[str]:
    return {name for name, info in cls.model_fields.items() if info.is_required()}


def _defaults(cls: type) -> dict:
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in cls.model_fields.items()
        if not info.is_required() and name not in _VOLATILE_DEFAULTS
    }


@pytest.mark.parametrize("name", OURS)
def test_class_exists_in_bec_lib(name: str) -> None:
    theirs = getattr(bec_messages, name, None)
    assert theirs is not None, f"bec_lib has no message class {name}"
    assert issubclass(theirs, bec_messages.BECMessage)


@pytest.mark.parametrize("name", OURS)
def test_field_order(name: str) -> None:
    ours = MESSAGE_CLASSES[name]
    theirs = getattr(bec_messages, name)
    assert list(ours.model_fields) == list(theirs.model_fields)


@pytest.mark.parametrize("name", OURS)
def test_required_fields(name: str) -> None:
    assert _required(MESSAGE_CLASSES[name]) == _required(getattr(bec_messages, name))


@pytest.mark.parametrize("name", OURS)
def test_msg_type_and_defaults(name: str) -> None:
    ours = MESSAGE_CLASSES[name]
    theirs = getattr(bec_messages, name)
    assert ours.msg_type == theirs.msg_type
    assert _defaults(ours) == _defaults(theirs)


@pytest.mark.parametrize("name", HELPERS)
def test_helper_models_match(name: str) -> None:
    ours = HELPER_MODELS[name]
    theirs = getattr(bec_messages, name, None)
    assert theirs is not None, f"bec_lib has no helper model {name}"
    assert list(ours.model_fields) == list(theirs.model_fields)
    assert _required(ours) == _required(theirs)
    assert _defaults(ours) == _defaults(theirs)


def test_enums_match() -> None:
    for name, ours in ENUMS.items():
        theirs = getattr(bec_messages, name)
        assert {m.name: m.value for m in ours} == {m.name: m.value for m in theirs}
        assert issubclass(ours, int) == issubclass(theirs, int)


def test_instruction_actions_superset_of_bec() -> None:
    ours = set(messages.DeviceInstructionMessage.model_fields["action"].annotation.__args__)
    theirs = set(bec_messages.DeviceInstructionMessage.model_fields["action"].annotation.__args__)
    assert theirs <= ours
    assert ours - theirs == {"point", "stop"}


#: Endpoints where we differ from BEC on purpose: method -> (our op, BEC's op).
_ENDPOINT_DEVIATIONS = {"device_instructions": ("STREAM", "SEND")}


def test_endpoints_match_bec_lib() -> None:
    from bec_lib.endpoints import MessageEndpoints as BecEndpoints

    for name, fn in inspect.getmembers(MessageEndpoints, inspect.isfunction):
        theirs_fn = getattr(BecEndpoints, name, None)
        assert theirs_fn is not None, f"bec_lib has no endpoint {name}"
        params = list(inspect.signature(fn).parameters)
        assert params == list(inspect.signature(theirs_fn).parameters), name
        args = [f"arg{i}" for i in range(len(params))]
        ours, theirs = fn(*args), theirs_fn(*args)
        assert ours.endpoint == theirs.endpoint, name
        assert ours.message_type.__name__ == theirs.message_type.__name__, name
        our_op: MessageOp = ours.message_op
        if name in _ENDPOINT_DEVIATIONS:
            assert (our_op.name, theirs.message_op.name) == _ENDPOINT_DEVIATIONS[name]
        else:
            assert our_op.name == theirs.message_op.name, name
            assert list(our_op.value) == list(theirs.message_op.value), name
