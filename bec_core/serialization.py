"""The BEC 4.x wire codec: msgpack maps with ``__bec_codec__`` envelopes.

Every message is a msgpack map with one key::

    {"__bec_codec__": {"encoder_name": "BECMessage",
                       "type_name": "<BEC class name>",
                       "data": {"metadata": {...}, <fields in declaration order>}}}

The same envelope carries the values plain msgpack cannot: numpy arrays and
scalars, complex numbers, enums, sets, nested pydantic models, device proxies
and endpoint descriptions (see ``spec/PROTOCOL.md`` section 2). Decoding runs
bottom-up, so envelopes may also stand as map keys (a stock client's scan
arguments ``{<device envelope>: [-5, 5]}``). A ``type_name`` is looked up in
our own registries only: nothing is imported, unpickled or evaluated.

Entry point, as in bec_lib: ``MsgpackSerialization.dumps(msg)`` / ``.loads(raw)``.
"""

from __future__ import annotations

import builtins
import enum
import gc
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np
import ormsgpack
from pydantic import BaseModel, ValidationError

from bec_core.errors import DecodeError, EncodeError
from bec_core.messages.base import ENUMS, MESSAGE_CLASSES, BECMessage

CODEC_KEY = "__bec_codec__"
# The envelope key as msgpack writes it (fixstr of 13 bytes): counting it in the
# raw bytes tells whether any envelope other than the top-level one is present.
_CODEC_KEY_PACKED = b"\xad" + CODEC_KEY.encode()
# Above this size the cyclic GC is paused while decoding (below it, pausing costs more than it saves).
_GC_PAUSE_BYTES = 1024

_SAFE_TYPES: dict[str, type] = {
    name: getattr(builtins, name)
    for name in ("int", "float", "str", "bool", "bytes", "list", "dict", "tuple", "set", "complex")
}


def _envelope(encoder_name: str, type_name: str, data: Any) -> dict[str, Any]:
    return {CODEC_KEY: {"encoder_name": encoder_name, "type_name": type_name, "data": data}}


# --------------------------------------------------------------------------- encode
def _encode_ndarray(arr: np.ndarray) -> dict[str, Any]:
    if arr.dtype.kind == "O":
        raise EncodeError("numpy arrays of dtype object cannot be sent on the bus")
    if arr.dtype.fields is not None:
        dtype_desc: Any = [list(field) for field in arr.dtype.descr]
        kind = b"V"
    else:
        dtype_desc, kind = arr.dtype.str, b""
    return _envelope(
        "ndarray",
        "ndarray",
        {
            b"nd": True,
            b"type": dtype_desc,
            b"kind": kind,
            b"shape": list(arr.shape),
            b"data": np.ascontiguousarray(arr).tobytes(),
        },
    )


# ormsgpack (Rust) packs and unpacks 2-3x faster than msgpack-python; these options make it
# hand every value msgpack-python would not pack natively to ``_encode_default``.
_PACK_OPTIONS = (
    ormsgpack.OPT_NON_STR_KEYS
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_BIG_INT
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_UUID
)


def _encode_default(obj: Any) -> Any:
    """Pack hook: wrap what plain msgpack cannot carry in an envelope."""
    # Subclasses of the plain types pack as the plain type (msgpack-python's non-strict mode,
    # which bec_lib relies on): np.float64, str/int enums, MessageOp lists.
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, int) and not isinstance(obj, (bool, enum.Flag)) and -(2**63) <= obj < 2**64:
        return int(obj)
    if isinstance(obj, list):
        return list(obj)
    if isinstance(obj, np.ndarray):
        return _encode_ndarray(obj)
    if isinstance(obj, np.generic):
        if isinstance(obj, np.bool_):
            encoder = "bool"
        elif obj.dtype.kind == "O":
            raise EncodeError("numpy object scalars cannot be sent on the bus")
        else:
            encoder = "number"
        return _envelope(
            encoder, obj.dtype.name, {b"nd": False, b"type": obj.dtype.str, b"data": obj.tobytes()}
        )
    if isinstance(obj, BECMessage):
        return _envelope("BECMessage", type(obj).__name__, obj.__dict__)
    if isinstance(obj, BaseModel):
        return _envelope("BaseModel", type(obj).__name__, obj.model_dump())
    if isinstance(obj, complex):
        return _envelope("complex", "complex", {b"complex": True, b"data": str(obj)})
    if isinstance(obj, enum.Enum):
        return _envelope("Enum", type(obj).__name__, obj.value)
    if isinstance(obj, (set, frozenset)):
        return _envelope("set", "set", list(obj))
    device_name = getattr(obj, "_bec_device_name", None)
    if isinstance(device_name, str):
        return _envelope("DeviceBase", type(obj).__name__, device_name)
    from bec_core.endpoints import EndpointInfo  # late: endpoints imports messages

    if isinstance(obj, EndpointInfo):
        return _envelope(
            "EndpointInfo",
            "EndpointInfo",
            {
                "endpoint": obj.endpoint,
                "message_type": obj.message_type.__name__,
                "message_op": list(obj.message_op.value),
            },
        )
    if isinstance(obj, type):
        return _envelope("type", "type", {"type_name": obj.__name__, "module": obj.__module__})
    raise EncodeError(f"cannot encode a value of type {type(obj).__module__}.{type(obj).__qualname__}")


def dumps(obj: Any) -> bytes:
    """Encode a BEC message (or any value the codec knows) to bytes."""
    if isinstance(obj, BECMessage):
        obj = _envelope("BECMessage", type(obj).__name__, obj.__dict__)
    try:
        return ormsgpack.packb(obj, default=_encode_default, option=_PACK_OPTIONS)
    except EncodeError:
        raise
    except (TypeError, ValueError, OverflowError, ormsgpack.MsgpackEncodeError) as exc:
        first = exc
    # msgpack-python packs what ormsgpack refuses (e.g. a device proxy used as a map key, as in
    # a stock client's scan arguments) and otherwise lets the hook's precise error through.
    try:
        return msgpack.packb(obj, default=_encode_default, use_bin_type=True)
    except EncodeError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"cannot encode {type(obj).__name__}: {exc} (after: {first})") from None


# --------------------------------------------------------------------------- decode
def _decode_message(type_name: str, data: Any) -> BECMessage:
    cls = MESSAGE_CLASSES.get(type_name)
    if cls is None:
        raise DecodeError(f"unknown message class {type_name!r}")
    if not isinstance(data, dict):
        raise DecodeError(f"{type_name}: message data must be a map, got {type(data).__name__}")
    try:
        return cls.__pydantic_validator__.validate_python(data)  # model_validate minus a wrapper
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<message>'}: {err['msg']}" for err in exc.errors()
        )
        raise DecodeError(f"invalid {type_name}: {problems}") from None


def _decode_ndarray(type_name: str, data: Any) -> np.ndarray:
    try:
        raw_type = data[b"type"]
        dtype = np.dtype([tuple(f) for f in raw_type]) if isinstance(raw_type, list) else np.dtype(raw_type)
        if dtype.kind == "O":
            raise DecodeError("numpy arrays of dtype object are refused")
        return np.frombuffer(data[b"data"], dtype=dtype).reshape(data[b"shape"]).copy()
    except DecodeError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"invalid ndarray payload: {exc}") from None


def _decode_number(type_name: str, data: Any) -> Any:
    try:
        dtype = np.dtype(data[b"type"])
        if dtype.kind == "O":
            raise DecodeError("numpy object scalars are refused")
        return np.frombuffer(data[b"data"], dtype=dtype)[0]
    except DecodeError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DecodeError(f"invalid numpy scalar payload ({type_name}): {exc}") from None


def _decode_complex(type_name: str, data: Any) -> complex:
    try:
        return complex(data[b"data"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"invalid complex payload: {exc}") from None


def _decode_enum(type_name: str, data: Any) -> Any:
    cls = ENUMS.get(type_name)
    if cls is None:
        return data
    try:
        return cls(data)
    except ValueError:
        raise DecodeError(f"{data!r} is not a valid {type_name}") from None


def _decode_endpoint(type_name: str, data: Any) -> Any:
    from bec_core.endpoints import EndpointInfo, MessageOp

    try:
        op = next(o for o in MessageOp if list(o.value) == list(data["message_op"]))
        return EndpointInfo(data["endpoint"], MESSAGE_CLASSES[data["message_type"]], op)
    except (KeyError, TypeError, StopIteration):
        raise DecodeError(f"invalid EndpointInfo payload: {data!r}") from None


def _decode_type(type_name: str, data: Any) -> type:
    name = data.get("type_name") if isinstance(data, dict) else None
    found = _SAFE_TYPES.get(name) or MESSAGE_CLASSES.get(name)  # type: ignore[arg-type]
    if found is None and isinstance(name, str) and isinstance(getattr(np, name, None), type):
        found = getattr(np, name)
    if found is None:
        raise DecodeError(f"refusing to decode type object {name!r}")
    return found


_DECODERS: dict[str, Callable[[str, Any], Any]] = {
    "BECMessage": _decode_message,
    "ndarray": _decode_ndarray,
    "number": _decode_number,
    "bool": _decode_number,
    "bool_": _decode_number,
    "complex": _decode_complex,
    "Enum": _decode_enum,
    "set": lambda _t, data: set(data),
    "BaseModel": lambda _t, data: data,
    "DeviceBase": lambda _t, data: data,
    "EndpointInfo": _decode_endpoint,
    "type": _decode_type,
}


def _object_hook(obj: dict) -> Any:
    env = obj.get(CODEC_KEY) if len(obj) == 1 else None
    if env is None:
        return obj
    try:
        decoder = _DECODERS[env["encoder_name"]]
        type_name, data = env["type_name"], env["data"]
    except (KeyError, TypeError):
        raise DecodeError(f"malformed envelope: {_preview(env)}") from None
    return decoder(type_name, data)


def _preview(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def loads(raw: bytes | bytearray | memoryview) -> Any:
    """Decode bytes to a message (or value); a BundleMessage becomes the list it holds.

    Raises :class:`~bec_core.errors.DecodeError` for anything that is not valid.
    """
    if type(raw) is not bytes:
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise DecodeError(f"expected bytes, got {type(raw).__name__}")
        raw = bytes(raw)
    fast = raw.count(_CODEC_KEY_PACKED) == 1
    if fast and len(raw) < _GC_PAUSE_BYTES:
        # Fast path (most traffic): a message with no nested envelope. ormsgpack unpacks it
        # without a hook on every map and pydantic validates the fields.
        message = _fast_message(raw)
        if message is not None:
            return message
        fast = False
    # Decoding a larger message allocates many small containers that are garbage-free by
    # construction; pausing the cyclic GC meanwhile saves a large share of the time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        message = _fast_message(raw) if fast else None
        return message if message is not None else _loads(raw)
    finally:
        if gc_was_enabled:
            gc.enable()


def _fast_message(raw: bytes) -> Any:
    """The message in ``raw`` if it is one without nested envelopes, else ``None``."""
    try:
        top = ormsgpack.unpackb(raw)
    except ormsgpack.MsgpackDecodeError:
        return None  # e.g. non-str map keys: msgpack-python's path decides
    env = top.get(CODEC_KEY) if type(top) is dict and len(top) == 1 else None
    if type(env) is not dict or env.get("encoder_name") != "BECMessage":
        return None
    message = _decode_message(str(env.get("type_name")), env.get("data"))
    if type(message).__name__ == "BundleMessage":
        return list(message.messages)  # type: ignore[attr-defined]
    return message


def _loads(raw: bytes) -> Any:
    try:
        result = msgpack.unpackb(raw, raw=False, strict_map_key=False, object_hook=_object_hook)
    except DecodeError:
        raise
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
        raise DecodeError(f"not a valid msgpack message: {exc}") from None
    if type(result).__name__ == "BundleMessage" and isinstance(result, BECMessage):
        return list(result.messages)  # type: ignore[attr-defined]
    return result


def loads_message(raw: bytes, endpoint: str | None = None) -> BECMessage | list[BECMessage]:
    """Decode bytes that must hold a BEC message (or a bundle of them).

    The error names ``endpoint`` when given, so a subscriber's log says where
    the bad bytes came from.
    """
    where = f" on {endpoint}" if endpoint else ""
    try:
        result = loads(raw)
    except DecodeError as exc:
        raise DecodeError(f"undecodable message{where}: {exc}") from None
    if isinstance(result, BECMessage):
        return result
    if isinstance(result, list) and all(isinstance(m, BECMessage) for m in result):
        return result
    raise DecodeError(f"undecodable message{where}: expected a BEC message, got {_preview(result)}")


class MsgpackSerialization:
    """bec_lib-compatible entry point: ``MsgpackSerialization.dumps/loads``."""

    @staticmethod
    def dumps(msg: Any, version: float | None = None) -> bytes:
        """Encode ``msg`` in the BEC 4.x wire format."""
        if version not in (None, 1.2):
            raise EncodeError(f"unsupported wire format version {version!r} (only 1.2)")
        return dumps(msg)

    @staticmethod
    def loads(raw: bytes) -> Any:
        """Decode bytes produced by bec_core or stock bec_lib."""
        return loads(raw)


__all__ = ["CODEC_KEY", "MsgpackSerialization", "dumps", "loads", "loads_message"]
