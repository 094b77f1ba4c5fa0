"""What the device server writes about devices, always into a caller's pipeline.

Each helper only queues commands on ``pipe``; the caller executes the pipeline,
so the publications of one request cost one round trip. Readings are encoded
once and the same bytes are SET and PUBLISHed on both ``device_read`` and
``device_readback``; an instruction's readings, its scan segment (a ``point``
that asks for one, :class:`Segment`), reply and ``XACK`` are one command
(:data:`FINISH_SCRIPT`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AlarmMessage,
    AvailableResourceMessage,
    DeviceInfoMessage,
    DeviceMessage,
    DeviceStatusMessage,
    ErrorInfo,
    ScanMessage,
)
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.redis_connector.async_connector import Pipe
from bec_core.redis_connector.direct import RawPipeline, pack
from bec_core.serialization import dumps
from bec_device_server.errors import InstructionError

if TYPE_CHECKING:
    from bec_device_server.devices import DeviceEntry

log = logging.getLogger(__name__)

_READ = "info/devices/read/"
_READBACK = "info/devices/readback/"
_SEGMENT_CHANNEL = MessageEndpoints.scan_segment().endpoint
NO_SEGMENT: tuple[Any, ...] = ("", "", b"", "", "", "")  #: FINISH_SCRIPT's ARGV[8..13], no segment


#: One command for a whole round trip: SET+PUBLISH every reading on ``device_read/<name>`` and/or
#: ``device_readback/<name>``, then the scan segments (if any: six arguments each from ARGV[8]
#: on, see :class:`Segment`; several when points of one instruction go out together), then
#: PUBLISH the reply (if any) and XACK the stream entry (if any), in this order. The
#: readings travel as two arguments, an index (``"<flags> <name bytes> <value bytes> "`` per
#: reading; flags 1 = read, 3 = read and readback) and the names and values back to back:
#: redis-py spends about 1 us packing each argument, which for four arguments per device was
#: most of the device server's cost of a 50-device point.
FINISH_SCRIPT = f"""
local index, blob = ARGV[1], ARGV[2]
local pos, n = 1, 0
for flags, name_len, value_len in string.gmatch(index, '(%d+) (%d+) (%d+) ') do
  local name_end = pos + tonumber(name_len)
  local value_end = name_end + tonumber(value_len)
  local name = string.sub(blob, pos, name_end - 1)
  local value = string.sub(blob, name_end, value_end - 1)
  pos = value_end
  redis.call('SET', '{_READ}' .. name, value)
  redis.call('PUBLISH', '{_READ}' .. name, value)
  if flags == '3' then
    redis.call('SET', '{_READBACK}' .. name, value)
    redis.call('PUBLISH', '{_READBACK}' .. name, value)
  end
  n = n + 1
end
for i = 8, #ARGV - 5, 6 do
  if ARGV[i] ~= '' and redis.call('EXISTS', ARGV[i + 4]) == 0 then
    if redis.call('SET', ARGV[i], ARGV[i + 2], 'NX', 'EX', ARGV[i + 3]) then
      redis.call('PUBLISH', ARGV[i + 1], ARGV[i + 2])
    end
    if ARGV[i + 5] ~= '' then
      redis.call('DEL', ARGV[i + 5])
    end
  end
end
if ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
if ARGV[7] ~= '' then
  redis.call('XACK', ARGV[5], ARGV[6], ARGV[7])
end
return n
"""


def _device_message_parts() -> tuple[bytes, bytes] | None:
    """(bytes before the metadata, bytes between metadata and signals) of an encoded DeviceMessage.

    ``dumps(DeviceMessage(metadata=m, signals=s))`` is exactly
    ``head + dumps(m) + middle + dumps(s)`` (msgpack nests by concatenation and ``data`` is
    the envelope's last key); None if the codec ever lays the message out differently.
    """
    tail = b"\x80\xa7signals\x80"  # {} for metadata, the key "signals", {} for signals
    probe = dumps(DeviceMessage.model_construct(signals={}, metadata={}))
    if not probe.endswith(tail) or not probe[: -len(tail)].endswith(b"\x82\xa8metadata"):
        return None
    return probe[: -len(tail)], b"\xa7signals"


_DEVICE_MESSAGE = _device_message_parts()


def encode_reading(
    signals: dict[str, Any], metadata: dict[str, Any], metadata_raw: bytes | None = None
) -> bytes:
    """``dumps(DeviceMessage(signals=signals, metadata=metadata))``, byte for byte, built faster.

    ``metadata_raw`` is ``dumps(metadata)`` when the caller has it already (one instruction's
    readings all carry the same metadata).
    """
    if _DEVICE_MESSAGE is None:
        return dumps(DeviceMessage.model_construct(signals=signals, metadata=metadata))
    head, middle = _DEVICE_MESSAGE
    return b"".join((head, dumps(metadata) if metadata_raw is None else metadata_raw, middle, dumps(signals)))


@dataclass(frozen=True, slots=True)
class Segment:
    """The scan segment a ``point`` publishes with its readings (parameter ``segment``).

    The scan server asks for it so that the readings are not sent back and forth: the
    device server publishes ``ScanMessage(point_id, scan_id, data=readings, metadata)`` on
    ``scan_segment`` and stores it at ``key`` for ``expire`` s, both only if ``key`` does not
    exist yet (a point is published once, also when its instruction is executed again) and
    only if ``guard`` does not exist (the scan server has withdrawn the point). ``forget``:
    an older public segment key to delete (the scan server's retention window), or "".
    """

    scan_id: str
    point_id: int
    metadata: dict[str, Any]
    key: str
    expire: int
    guard: str
    forget: str

    @classmethod
    def parse(cls, value: Any) -> Segment:
        """From the parameter's dict; :class:`InstructionError` names what is wrong."""
        if not isinstance(value, dict):
            raise InstructionError(f"point: parameter 'segment' must be a dict, not {type(value).__name__}")
        kinds: dict[str, type] = {
            "scan_id": str, "point_id": int, "metadata": dict, "key": str, "expire": int, "guard": str,
        }  # fmt: skip
        for name, kind in kinds.items():
            field_value = value.get(name)
            if not isinstance(field_value, kind) or isinstance(field_value, bool):
                raise InstructionError(
                    f"point: segment field {name!r} must be {kind.__name__}, not {field_value!r:.80}"
                )
        if not value["key"] or not value["guard"] or value["expire"] < 1 or value["point_id"] < 0:
            raise InstructionError(
                f"point: a segment needs a key, a guard, expire >= 1 and point_id >= 0: {value!r:.200}"
            )
        forget = value.get("forget") or ""
        if not isinstance(forget, str):
            raise InstructionError(f"point: segment field 'forget' must be str, not {forget!r:.80}")
        return cls(
            value["scan_id"], value["point_id"], value["metadata"], value["key"], value["expire"],
            value["guard"], forget,
        )  # fmt: skip


def _map_header(n: int) -> bytes:
    """The msgpack header of a map of ``n`` entries."""
    if n < 16:
        return bytes((0x80 | n,))
    return b"\xde" + n.to_bytes(2, "big") if n < 2**16 else b"\xdf" + n.to_bytes(4, "big")


def _scan_message_head() -> bytes | None:
    """The bytes of an encoded ScanMessage before its fields (``metadata``, ``point_id``, ``scan_id``,
    ``data``, in that order), or None if the codec ever lays the message out differently."""
    tail = b"\x84\xa8metadata\x80\xa8point_id\x00\xa7scan_id\xa0\xa4data\x80"
    probe = dumps(ScanMessage.model_construct(metadata={}, point_id=0, scan_id="", data={}))
    return probe[: -len(tail)] if probe.endswith(tail) else None


_SCAN_MESSAGE_HEAD = _scan_message_head()


def encode_segment(segment: Segment, signals: list[tuple[str, dict[str, Any], bytes]]) -> bytes:
    """``dumps(ScanMessage(point_id, scan_id, data={name: signals}, metadata))``, byte for byte, from
    the readings' signals encoded already (``(name, signals, dumps(signals))`` in read order)."""
    if _SCAN_MESSAGE_HEAD is None:
        data = {name: value for name, value, _ in signals}
        return dumps(
            ScanMessage.model_construct(
                metadata=segment.metadata, point_id=segment.point_id, scan_id=segment.scan_id, data=data
            )
        )
    parts = [
        _SCAN_MESSAGE_HEAD, b"\x84\xa8metadata", dumps(segment.metadata), b"\xa8point_id",
        dumps(segment.point_id), b"\xa7scan_id", dumps(segment.scan_id), b"\xa4data",
        _map_header(len(signals)),
    ]  # fmt: skip
    for name, _, raw in signals:
        parts += (dumps(name), raw)
    return b"".join(parts)


class Readings:
    """Device readings collected for one round trip; :meth:`queue` sends them as one command."""

    def __init__(self) -> None:
        self._index: list[str] = []
        self._blob: list[bytes] = []
        self._metadata: dict[str, Any] | None = None
        self._metadata_raw = b""
        self._signals: list[tuple[str, dict[str, Any], bytes]] = []  # for a segment
        #: FINISH_SCRIPT's arguments from ARGV[8] on: six per scan segment (see :meth:`segment`)
        self.segment_args: tuple[Any, ...] = NO_SEGMENT

    def __len__(self) -> int:
        return len(self._index)

    def add(
        self, name: str, signals: dict[str, Any], metadata: dict[str, Any], readback: bool = True
    ) -> None:
        """SET+PUBLISH ``device_read/<name>`` (and ``device_readback/<name>``), encoded once."""
        if metadata is not self._metadata:  # the metadata of one instruction is encoded once
            self._metadata, self._metadata_raw = metadata, dumps(metadata)
        signals_raw = dumps(signals)
        self._signals.append((name, signals, signals_raw))
        if _DEVICE_MESSAGE is None:
            raw = encode_reading(signals, metadata)
        else:
            raw = b"".join((_DEVICE_MESSAGE[0], self._metadata_raw, _DEVICE_MESSAGE[1], signals_raw))
        key = name.encode()
        self._index.append(f"{3 if readback else 1} {len(key)} {len(raw)} ")
        self._blob += (key, raw)

    def segment(self, segment: Segment) -> None:
        """Publish the readings added since the last segment as ``segment`` too, in the same
        command (after any segment queued before it)."""
        raw = encode_segment(segment, self._signals)
        args = (segment.key, _SEGMENT_CHANNEL, raw, str(segment.expire), segment.guard, segment.forget)
        self.segment_args = args if self.segment_args is NO_SEGMENT else (*self.segment_args, *args)
        self._signals = []

    def take(
        self, *, reply: tuple[str, bytes] | None = None, ack: tuple[str, str, str] | None = None
    ) -> tuple[Any, ...]:
        """The arguments of :data:`FINISH_SCRIPT` for the readings, the segment, ``reply`` =
        (channel, bytes) and ``ack`` = (stream, group, entry id); start over."""
        channel, raw = reply or ("", b"")
        stream, group, entry_id = ack or ("", "", "")
        index, blob = "".join(self._index), b"".join(self._blob)
        args = (index, blob, channel, raw, stream, group, entry_id, *self.segment_args)
        self._index, self._blob, self._signals, self.segment_args = [], [], [], NO_SEGMENT
        return args

    def queue(
        self,
        pipe: Pipeline,
        *,
        reply: tuple[str, bytes] | None = None,
        ack: tuple[str, str, str] | None = None,
    ) -> None:
        """Queue the readings, then ``PUBLISH`` of ``reply``, then ``XACK`` of ``ack`` on ``pipe``
        as one EVAL (see :meth:`take`); start over."""
        if self._index or reply is not None or ack is not None:
            pipe.eval(FINISH_SCRIPT, 0, *self.take(reply=reply, ack=ack))

    def flush(self, pipe: Pipeline) -> None:
        """Queue the readings collected on ``pipe`` (one EVAL) and start over."""
        self.queue(pipe)


class Finisher:
    """Runs :data:`FINISH_SCRIPT` (``EVALSHA``) on a connection of its own, in call order.

    An instruction's last command skips redis-py's per-command layers (connection
    pool, command dispatch: some 30 us of CPU per command). Concurrent finishes are
    pipelined on that one connection: each is written at once and the replies are read
    in the order the commands went out, so Redis runs them in call order (a point sent
    ahead never publishes its readings before the point before it). A connection or
    timeout error drops the connection and runs the command through the pool (with
    redis-py's retries), as a failed pipeline would be retried; so does every command that
    was written on the dropped connection and had not read its reply yet (the pool may have
    given the connection to someone else). ``NOSCRIPT`` (Redis restarted) reloads the script.
    """

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.redis = connector.redis
        self.script: Any = self.redis.register_script(FINISH_SCRIPT)
        self._conn: Any = None
        #: counts the connections dropped: a command written before a drop must not read after it
        #: (the pool may hand the same connection object out again, reconnected)
        self._drops = 0
        self._connecting = asyncio.Lock()
        self._reading = asyncio.Lock()  # FIFO: replies are read in the order the commands were written

    async def run(self, args: tuple[Any, ...]) -> None:
        """Execute the script with ``args`` (see :meth:`Readings.take`)."""
        packed = pack([("EVALSHA", self.script.sha, 0, *args)])
        conn = self._conn
        try:
            if conn is None:
                async with self._connecting:
                    if self._conn is None:
                        self._conn = await self.redis.connection_pool.get_connection()
                    conn = self._conn
            written = self._drops
            await conn.send_packed_command(packed, check_health=False)
            async with self._reading:
                if written != self._drops:
                    # another command's failure dropped the connection while this one waited to
                    # read: the pool may have handed it on (reconnected), so its replies are
                    # not ours; run the script again below (once-only segments, repeatable rest)
                    raise RedisConnectionError("the finishing connection was dropped meanwhile")
                await conn.read_response()
            return
        except NoScriptError:
            pass  # the connection is in step: the reply was read
        except ResponseError:
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.info("finishing connection lost (%s): using the pool", exc)
            await self._drop(conn)
        except BaseException:
            await self._drop(conn)  # cancelled mid-command: the connection is out of step
            raise
        await self.script(args=args)

    async def run_after(self, pipe: RawPipeline, args: tuple[Any, ...]) -> None:
        """The script with ``args`` as the last command of ``pipe`` (an instruction's other
        publications): one packet, one round trip; ``NOSCRIPT`` (Redis restarted) runs the
        script again through redis-py, which loads it."""
        pipe.execute_command("EVALSHA", self.script.sha, 0, *args)
        replies = await pipe.execute(raise_on_error=False)
        if isinstance(replies[-1], NoScriptError):
            await self.script(args=args)  # the reply goes out even if a command before it failed
            replies.pop()
        errors = [r for r in replies if isinstance(r, Exception)]
        if errors:
            raise errors[0]

    async def close(self) -> None:
        """Give the connection back to the pool, disconnected."""
        await self._drop(self._conn)

    async def _drop(self, conn: Any) -> None:
        if conn is None or conn is not self._conn:
            return  # already dropped (by another caller that saw the same failure)
        self._conn = None
        self._drops += 1
        if conn is not None:
            try:
                await conn.disconnect(nowait=True)
            finally:
                await self.redis.connection_pool.release(conn)


def readback_commands(
    name: str, signals: dict[str, Any], metadata: dict[str, Any]
) -> list[tuple[str, str, bytes]]:
    """The raw commands that SET+PUBLISH ``device_readback/<name>`` only."""
    raw = encode_reading(signals, metadata)
    return [("SET", _READBACK + name, raw), ("PUBLISH", _READBACK + name, raw)]


async def queue_initial(
    connector: AsyncRedisConnector,
    pipe: Pipe,
    readings: Readings,
    entry: DeviceEntry,
    read: dict[str, Any] | None,
    read_configuration: dict[str, Any] | None,
    limits: tuple[float, float] | None,
) -> None:
    """device_info, device_read, device_readback, device_read_configuration and device_limits."""
    name = entry.name
    await connector.set(
        MessageEndpoints.device_info(name), DeviceInfoMessage(device=name, info=entry.info), pipe=pipe
    )
    if read is not None:
        readings.add(name, read, {})
    if read_configuration is not None:
        await connector.set_and_publish(
            MessageEndpoints.device_read_configuration(name),
            DeviceMessage(signals=read_configuration),
            pipe=pipe,
        )
    if limits is not None:
        await connector.set_and_publish(
            MessageEndpoints.device_limits(name),
            DeviceMessage(signals={"low": {"value": limits[0]}, "high": {"value": limits[1]}}),
            pipe=pipe,
        )


async def queue_device_config(connector: AsyncRedisConnector, pipe: Pipe, configs: list[dict]) -> None:
    """``info/devices/config`` = AvailableResourceMessage(resource=[device dicts])."""
    await connector.set(
        MessageEndpoints.device_config(), AvailableResourceMessage(resource=configs), pipe=pipe
    )


async def queue_staged(connector: AsyncRedisConnector, pipe: Pipe, name: str, staged: bool) -> None:
    """``info/devices/staged/<name>`` = DeviceStatusMessage(status=1|0)."""
    await connector.set(
        MessageEndpoints.device_staged(name), DeviceStatusMessage(device=name, status=int(staged)), pipe=pipe
    )


async def queue_alarm(
    connector: AsyncRedisConnector,
    pipe: Pipe,
    message: str,
    compact: str,
    exception_type: str,
    device: str | list[str] | None,
    severity: int = 1,
    metadata: dict[str, Any] | None = None,
) -> None:
    """SET+PUBLISH an AlarmMessage on ``user/alarms``."""
    info = ErrorInfo(
        error_message=message, compact_error_message=compact, exception_type=exception_type, device=device
    )
    await connector.set_and_publish(
        MessageEndpoints.alarm(),
        AlarmMessage(severity=severity, info=info, metadata=metadata or {}),
        pipe=pipe,
    )


__all__ = [
    "FINISH_SCRIPT",
    "NO_SEGMENT",
    "Finisher",
    "Readings",
    "Segment",
    "encode_reading",
    "encode_segment",
    "queue_alarm",
    "queue_device_config",
    "queue_initial",
    "queue_staged",
    "readback_commands",
]
