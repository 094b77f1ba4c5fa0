"""The wire codec: round trips of every message class, numpy payloads, and bad input."""

from __future__ import annotations

import enum

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from message_samples import REQUIRED

from bec_core import messages
from bec_core.endpoints import MessageEndpoints
from bec_core.errors import BECError, DecodeError, EncodeError
from bec_core.messages import MESSAGE_CLASSES
from bec_core.serialization import CODEC_KEY, MsgpackSerialization, dumps, loads, loads_message

DTYPES = [
    np.float64,
    np.float32,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.bool_,
    np.complex128,
]

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5))
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.complex_numbers(allow_nan=False),
    st.sampled_from([np.int32(-4), np.uint16(9), np.float32(1.5), np.bool_(True), np.int64(2**40)]),
)
values = st.recursive(
    st.one_of(scalars, arrays),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)


def roundtrip(msg):
    return loads(dumps(msg))


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_message_class_roundtrips(name: str) -> None:
    msg = MESSAGE_CLASSES[name](**REQUIRED[name], metadata={"RID": "r1", "n": 1})
    back = roundtrip(msg)
    if name == "BundleMessage":
        assert back == []
    else:
        assert back == msg
        assert type(back) is type(msg)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(value=values, metadata=st.dictionaries(st.text(max_size=8), values, max_size=3))
def test_generated_values_roundtrip(value, metadata) -> None:
    for msg in (
        messages.VariableMessage(value=value, metadata=metadata),
        messages.DeviceMessage(signals={"det": {"value": value, "timestamp": 1.0}}, metadata=metadata),
        messages.ScanMessage(
            point_id=3, scan_id="s", data={"det": {"det": {"value": value, "timestamp": 2.0}}}
        ),
    ):
        assert roundtrip(msg) == msg


@settings(max_examples=60, deadline=None)
@given(arr=arrays)
def test_arrays_keep_dtype_shape_and_are_writable(arr: np.ndarray) -> None:
    back = roundtrip(messages.VariableMessage(value=arr)).value
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    back.flags.writeable = True  # a decoded array is a private copy


def test_non_contiguous_and_structured_arrays() -> None:
    arr = np.arange(12, dtype="<f4").reshape(3, 4).T
    np.testing.assert_array_equal(roundtrip(messages.VariableMessage(value=arr)).value, arr)
    rec = np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")])
    rec["b"] = [1, 2, 3]
    assert roundtrip(messages.VariableMessage(value=rec)).value["b"].tolist() == [1, 2, 3]


def test_numpy_scalars_keep_their_type() -> None:
    for scalar in (np.int32(-4), np.uint64(7), np.float32(0.25), np.bool_(False)):
        back = roundtrip(messages.VariableMessage(value=scalar)).value
        assert type(back) is type(scalar) and back == scalar
    # float64 packs as a plain float, as in bec_lib
    assert type(roundtrip(messages.VariableMessage(value=np.float64(2.5))).value) is float


def test_enum_set_complex_tuple_nested_models() -> None:
    status = messages.StatusMessage(name="ScanServer", status=messages.BECStatus.RUNNING, info={"user": "u"})
    assert roundtrip(status).status is messages.BECStatus.RUNNING
    assert roundtrip(messages.VariableMessage(value={1, 2})).value == {1, 2}
    assert roundtrip(messages.VariableMessage(value=1 + 2j)).value == 1 + 2j
    assert roundtrip(messages.VariableMessage(value=(1, 2))).value == [1, 2]
    alarm = messages.AlarmMessage(
        severity=2,
        info=messages.ErrorInfo(
            error_message="x", compact_error_message="x", exception_type="E", device="samx"
        ),
    )
    assert roundtrip(alarm) == alarm


def test_endpoint_info_roundtrips() -> None:
    ep = MessageEndpoints.scan_status()
    assert roundtrip(messages.VariableMessage(value=ep)).value == ep


def test_bundle_decodes_to_list() -> None:
    bundle = messages.BundleMessage(
        messages=[messages.ScanMessage(point_id=i, scan_id="s", data={}) for i in range(2)]
    )
    assert [m.point_id for m in roundtrip(bundle)] == [0, 1]


def test_envelope_as_map_key() -> None:
    """A stock client's scan request: args keyed by a DeviceBase envelope."""
    device_key = {CODEC_KEY: {"encoder_name": "DeviceBase", "type_name": "Positioner", "data": "samx"}}
    packer = msgpack.Packer(use_bin_type=True)
    body = {"scan_type": "line_scan", "parameter": {"args": {"__KEY__": [-5, 5]}, "kwargs": {"steps": 3}}}
    raw = packer.pack(
        {
            CODEC_KEY: {
                "encoder_name": "BECMessage",
                "type_name": "ScanQueueMessage",
                "data": {"metadata": {"RID": "r"}, **body},
            }
        }
    )
    # splice the envelope in as the map key (msgpack-python cannot pack a dict key directly)
    raw = raw.replace(packer.pack("__KEY__"), packer.pack(device_key))
    msg = loads(raw)
    assert msg.parameter["args"] == {"samx": [-5, 5]}


class Color(enum.Enum):
    RED = "red"


def test_unknown_enum_decodes_to_value_and_plain_subclasses_pack_natively() -> None:
    assert roundtrip(messages.VariableMessage(value=Color.RED)).value == "red"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"\xc1", "not a valid msgpack"),
        (b"", "not a valid msgpack"),
        (
            msgpack.packb(
                {CODEC_KEY: {"encoder_name": "BECMessage", "type_name": "NoSuchMessage", "data": {}}}
            ),
            "unknown message class 'NoSuchMessage'",
        ),
        (
            msgpack.packb(
                {
                    CODEC_KEY: {
                        "encoder_name": "BECMessage",
                        "type_name": "ScanMessage",
                        "data": {"scan_id": "s"},
                    }
                }
            ),
            "invalid ScanMessage: point_id",
        ),
        (
            msgpack.packb(
                {
                    CODEC_KEY: {
                        "encoder_name": "BECMessage",
                        "type_name": "ScanStatusMessage",
                        "data": {"scan_id": "s", "status": "exploded", "info": {}},
                    }
                }
            ),
            "status",
        ),
        (msgpack.packb({CODEC_KEY: {"encoder_name": "pickle", "type_name": "x", "data": b""}}), "malformed"),
        (
            msgpack.packb(
                {
                    CODEC_KEY: {
                        "encoder_name": "ndarray",
                        "type_name": "ndarray",
                        "data": {b"nd": True, b"type": "|O", b"kind": b"", b"shape": [1], b"data": b"\0" * 8},
                    }
                },
                use_bin_type=True,
            ),
            "object",
        ),
        (
            msgpack.packb(
                {
                    CODEC_KEY: {
                        "encoder_name": "type",
                        "type_name": "type",
                        "data": {"type_name": "Popen", "module": "subprocess"},
                    }
                }
            ),
            "refusing",
        ),
    ],
)
def test_bad_bytes_give_one_clear_error(raw: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment) as info:
        loads(raw)
    assert isinstance(info.value, BECError)


def test_loads_message_names_the_endpoint_and_wants_a_message() -> None:
    with pytest.raises(DecodeError, match="on info/scans/scan_status"):
        loads_message(b"\xc1", "info/scans/scan_status")
    with pytest.raises(DecodeError, match="expected a BEC message"):
        loads_message(msgpack.packb({"a": 1}), "user/x")


def test_unencodable_value_is_a_clear_error() -> None:
    with pytest.raises(EncodeError, match="object"):
        dumps(messages.VariableMessage(value=np.array([object()], dtype=object)))
    with pytest.raises(EncodeError, match=r"_thread\.lock"):
        import threading

        dumps(messages.VariableMessage(value=threading.Lock()))


def test_bec_lib_style_entry_point() -> None:
    msg = messages.VariableMessage(value=1)
    assert MsgpackSerialization.loads(MsgpackSerialization.dumps(msg)) == msg
    with pytest.raises(EncodeError):
        MsgpackSerialization.dumps(msg, version=2.0)


class _Proxy:
    """Anything with ``_bec_device_name`` is sent as a DeviceBase envelope (a client's device proxy)."""

    def __init__(self, name: str) -> None:
        self._bec_device_name = name

    def __hash__(self) -> int:
        return hash(self._bec_device_name)


def test_device_proxy_as_map_key_is_encoded_like_a_stock_client() -> None:
    request = messages.ScanQueueMessage(
        scan_type="line_scan", parameter={"args": {_Proxy("samx"): [-5, 5]}, "kwargs": {"relative": False}}
    )
    raw = dumps(request)
    assert b"DeviceBase" in raw and b"_Proxy" in raw
    assert loads(raw).parameter["args"] == {"samx": [-5, 5]}
