"""Shared pieces of the connectors: message objects, endpoint checks, counters."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import msgpack

from bec_core.endpoints import EndpointInfo
from bec_core.errors import IncompatibleMessageForEndpoint, IncompatibleRedisOperation
from bec_core.messages.base import BECMessage

Topic = EndpointInfo | str


@dataclass(slots=True)
class MessageObject:
    """What a subscription delivers: the Redis channel (or stream key) and the decoded value.

    ``value`` is a BEC message, or a list of them when a BundleMessage arrived.
    For stream entries ``id`` is the entry id.
    """

    topic: str
    value: Any
    id: str | None = None

    @property
    def content(self) -> Any:
        """The message's content (shortcut for ``value.content``)."""
        return self.value.content

    @property
    def metadata(self) -> Any:
        """The message's metadata (shortcut for ``value.metadata``)."""
        return self.value.metadata


@dataclass(slots=True)
class StreamEntry:
    """One stream entry read through a consumer group; ``error`` is set when it did not decode."""

    id: str
    fields: dict[str, Any]
    error: Exception | None = None

    @property
    def value(self) -> Any:
        """The message in the entry's ``data`` field (``None`` if absent or undecodable)."""
        return self.fields.get("data")


@dataclass(slots=True)
class ConnectorStats:
    """Counters a service can publish or a test can read."""

    decode_errors: int = 0
    dropped: int = 0
    reconnects: int = 0
    callback_errors: int = 0
    last_errors: list[str] = field(default_factory=list)

    def note_error(self, text: str) -> None:
        """Remember a recent error text (the last ten are kept)."""
        self.last_errors.append(text)
        del self.last_errors[:-10]


def topic_name(topic: Topic) -> str:
    """The Redis key of an endpoint (or the string itself)."""
    return topic.endpoint if isinstance(topic, EndpointInfo) else str(topic)


def check(topic: Topic, method: str, msg: Any = None) -> str:
    """Validate ``method`` (and ``msg``) against the endpoint; return the key.

    Raises before anything is sent. A plain string topic skips validation.
    """
    if not isinstance(topic, EndpointInfo):
        if not isinstance(topic, str):
            raise TypeError(f"topic must be an EndpointInfo or a str, not {type(topic).__name__}")
        return topic
    if method not in topic.message_op.value:
        raise IncompatibleRedisOperation(
            f"{method}() is not allowed on endpoint {topic.endpoint!r}: its operations are "
            f"{topic.message_op.name} {list(topic.message_op.value)}"
        )
    if msg is not None:
        expected = topic.message_type
        if isinstance(msg, BECMessage) and not isinstance(msg, expected):
            raise IncompatibleMessageForEndpoint(
                f"endpoint {topic.endpoint!r} carries {expected.__name__}, not {type(msg).__name__}"
            )
        if not isinstance(msg, BECMessage):
            raise IncompatibleMessageForEndpoint(
                f"endpoint {topic.endpoint!r} carries {expected.__name__}, not a {type(msg).__name__}"
            )
    return topic.endpoint


def warn_plain_topic(topic: Topic) -> None:
    """Plain string topics work but skip the endpoint checks."""
    if isinstance(topic, str):
        warnings.warn(
            f"topic {topic!r} given as a string: endpoint checks are skipped; use MessageEndpoints",
            DeprecationWarning,
            stacklevel=3,
        )


def message_time(msg: Any) -> float:
    """Best guess of when a message was produced (for 'the newest of a pattern')."""
    ts = getattr(msg, "timestamp", None)
    if isinstance(ts, (int, float)):
        return float(ts)
    signals = getattr(msg, "signals", None)
    if isinstance(signals, dict):
        stamps = [
            float(s["timestamp"])
            for s in signals.values()
            if isinstance(s, dict) and isinstance(s.get("timestamp"), (int, float))
        ]
        if stamps:
            return max(stamps)
    return float("-inf")


#: the msgpack encoding of the map key "RID" (a fixstr of 3 bytes)
_RID_KEY = re.compile(re.escape(msgpack.packb("RID")))


def recover_rid(raw: bytes, limit: int = 1 << 20) -> str | None:
    """Best effort: the request id (``metadata["RID"]``) of bytes that did not decode.

    An undecodable request (nested too deep, wrong fields, cut short) must still be answered
    when its sender can be named. The RID is looked for as the msgpack key ``"RID"`` followed
    by a string value, in the first ``limit`` bytes; the first such string wins.
    """
    if not isinstance(raw, (bytes, bytearray)):
        return None
    for match in _RID_KEY.finditer(raw, 0, min(len(raw), limit)):
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 16)
        unpacker.feed(bytes(raw[match.end() : match.end() + 300]))
        try:
            value = unpacker.unpack()
        except Exception:  # not a complete value here: look further
            continue
        if isinstance(value, str) and 0 < len(value) <= 200:
            return value
    return None
