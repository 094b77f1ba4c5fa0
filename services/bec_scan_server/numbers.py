"""Scan and dataset numbers from an atomic Redis counter.

Clients see ``user/scan_number`` / ``user/dataset_number`` as in BEC 4.3.2:
``VariableMessage(value=<last used number>)`` with no account set, the plain
number as BEC's documentation shows, or ``{<account>: <number>}`` (BEC 4.3.2's
per-account form) once an account is set; stock 4.3 clients read both (a client may
write them to choose the next number). The numbers themselves come from
internal counters that only grow. An allocation takes ``max(counter, visible) + 1``
from the four keys as last seen and writes the new values with one compare-and-set
script (:data:`COMPARE_AND_SET`): it writes only if all four keys still hold what
was seen, else it returns what they hold and the allocation is computed again. So
concurrent allocations get distinct numbers, a number is never reused, a crash
cannot skip one (the script writes all four or none), and the usual allocation is
one round trip. The numbers this process handed out last are a floor too: a Redis
that restarts without the counters (no persistence, or the last second of its
append-only file lost) does not make the next scan take a number, and its files a
name, that was used already.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import VariableMessage
from bec_core.redis_connector import AsyncRedisConnector
from bec_core.serialization import dumps, loads

log = logging.getLogger(__name__)

SCAN_COUNTER = "internal/scan_server/scan_number_counter"
DATASET_COUNTER = "internal/scan_server/dataset_number_counter"
#: the largest scan or dataset number accepted (fits a signed 32-bit integer everywhere it goes:
#: file names, HDF5 attributes, stock clients); a larger or malformed value is ignored
MAX_NUMBER = 2**31 - 1


#: KEYS: the four number keys; ARGV[1..4]: what each held when last seen ("" = absent,
#: else "=" and the value), ARGV[5..8]: the new values. Writes them and returns 1 if every
#: key still holds what was seen, else writes nothing and returns the keys' current values.
COMPARE_AND_SET = """
local current = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
for i = 1, 4 do
  local seen = current[i] and ('=' .. current[i]) or ''
  if seen ~= ARGV[i] then
    return current
  end
end
for i = 1, 4 do
  redis.call('SET', KEYS[i], ARGV[i + 4])
end
return 1
"""


def _seen(raw: Any) -> bytes:
    """A key's value as :data:`COMPARE_AND_SET` compares it."""
    if raw is None:
        return b""
    return b"=" + (raw if isinstance(raw, bytes) else str(raw).encode())


@dataclass(frozen=True, slots=True)
class Numbers:
    """The numbers given to one scan."""

    scan_number: int
    dataset_number: int


def visible(account: str, number: int) -> int | dict[str, int]:
    """The client-visible value: the plain number without an account, else ``{account: number}``."""
    return {account: number} if account else number


def valid_number(value: Any) -> int | None:
    """``value`` as a scan/dataset number, or None if it is not an integer in 0..MAX_NUMBER."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NUMBER:
        return None
    return value


def visible_value(raw: bytes | None, account: str, key: str = "user/scan_number") -> int:
    """The number stored in a client-visible key (``{account: n}``, or a legacy plain int).

    A value that is not an integer in 0..MAX_NUMBER (e.g. 2**64-1 written by a client) is
    ignored with a warning: the internal counter, the last valid number, then decides.
    """
    if raw is None:
        return 0
    try:
        value = loads(raw).value
    except Exception as exc:  # a client wrote garbage: the counter alone decides
        log.warning("%s is not a valid message (%s): ignored", key, exc)
        return 0
    if isinstance(value, dict):
        value = value.get(account, 0)
    number = valid_number(value)
    if number is None:
        log.warning(
            "%s holds %.60r, not a number in 0..%d: ignored; numbering continues from the last valid one",
            key,
            value,
            MAX_NUMBER,
        )
        return 0
    return number


def counter_value(raw: Any, key: str) -> int:
    """An internal counter's value; a corrupt one (written by hand, or by an old version) counts 0."""
    if raw is None:
        return 0
    number = valid_number(raw)
    if number is None:
        log.warning("%s holds %.60r, not a number in 0..%d: ignored", key, raw, MAX_NUMBER)
        return 0
    return number


class NumberAllocator:
    """Hands out scan and dataset numbers; see the module docstring."""

    def __init__(self, connector: AsyncRedisConnector) -> None:
        self.connector = connector
        self.account = ""
        self.last_scan_number = 0
        #: the last dataset number this process handed out (with :attr:`last_scan_number`, the floor
        #: of the next allocation: a Redis that restarted without the counters must not make a
        #: number be used twice)
        self.last_dataset_number = 0
        self._script: Any = connector.redis.register_script(COMPARE_AND_SET)
        #: the four keys' values as last read or written (None: not known yet)
        self._seen: list[Any] | None = None

    async def start(self) -> None:
        """Read the account, create the client-visible keys if absent, remember the current number."""
        await self.refresh_account()
        redis = self.connector.redis
        for ep in (MessageEndpoints.scan_number(), MessageEndpoints.dataset_number()):
            await redis.set(ep.endpoint, dumps(VariableMessage(value=visible(self.account, 0))), nx=True)
        self.last_scan_number = await self.current_scan_number()

    async def refresh_account(self) -> None:
        """The active account: the newest entry of ``info/account`` ("" if none)."""
        try:
            msg = await self.connector.get_last(MessageEndpoints.account())
        except Exception as exc:
            log.warning("cannot read info/account: %s", exc)
            return
        value = getattr(msg, "value", None)
        self.account = value if isinstance(value, str) else ""

    async def current_scan_number(self) -> int:
        """The last scan number used (or written by a client)."""
        redis = self.connector.redis
        counter, raw = await redis.mget(SCAN_COUNTER, MessageEndpoints.scan_number().endpoint)
        return max(counter_value(counter, SCAN_COUNTER), visible_value(raw, self.account))

    async def allocate(self, dataset_on_hold: bool = False) -> Numbers:
        """Next scan number and dataset number (the dataset number stays if ``dataset_on_hold``)."""
        scan_key = MessageEndpoints.scan_number().endpoint
        dataset_key = MessageEndpoints.dataset_number().endpoint
        keys = [SCAN_COUNTER, DATASET_COUNTER, scan_key, dataset_key]
        account = self.account
        values = self._seen
        if values is None:
            values = list(await self.connector.redis.mget(*keys))
        while True:
            scan = (
                max(
                    counter_value(values[0], SCAN_COUNTER),
                    visible_value(values[2], account),
                    self.last_scan_number,
                )
                + 1
            )
            last_dataset = max(
                counter_value(values[1], DATASET_COUNTER),
                visible_value(values[3], account, dataset_key),
                self.last_dataset_number,
            )
            dataset = max(last_dataset, 1) if dataset_on_hold else last_dataset + 1
            new = [
                str(scan).encode(),
                str(dataset).encode(),
                dumps(VariableMessage(value=visible(account, scan))),
                dumps(VariableMessage(value=visible(account, dataset))),
            ]
            try:
                result = await self._script(keys=keys, args=[*(_seen(v) for v in values), *new])
            except BaseException:
                self._seen = None  # the write may or may not have happened: read afresh next time
                raise
            if result == 1:
                self._seen = new
                break
            values = list(result)  # somebody else allocated or a client wrote: compute again
        self.last_scan_number = max(self.last_scan_number, scan)
        self.last_dataset_number = max(self.last_dataset_number, dataset)
        return Numbers(scan, dataset)


async def warn_without_persistence(connector: AsyncRedisConnector) -> bool:
    """Log a WARNING when Redis keeps nothing on disk (numbers would restart after a Redis restart).

    Returns True when persistence is on or cannot be checked (CONFIG forbidden by ACL).
    """
    try:
        config = {_text(k): _text(v) for k, v in (await connector.redis.config_get("appendonly")).items()}
        config.update({_text(k): _text(v) for k, v in (await connector.redis.config_get("save")).items()})
    except ResponseError as exc:  # NOPERM / CONFIG disabled: we cannot tell
        log.info("cannot check Redis persistence (%s)", exc)
        return True
    aof = str(config.get("appendonly", "no")).lower() == "yes"
    rdb = bool(str(config.get("save", "")).strip())
    if not aof and not rdb:
        log.warning(
            'Redis at %s has no persistence (appendonly no, save ""): scan numbers and the queue '
            "would be lost if Redis restarts",
            connector.url,
        )
        return False
    return True


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
