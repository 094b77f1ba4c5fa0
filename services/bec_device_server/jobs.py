"""One instruction in execution: its pipeline, deadline, parameters and per-device fan-out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bec_core.messages import DeviceInstructionMessage
from bec_device_server.errors import DeviceActionError, InstructionError
from bec_device_server.publish import Readings

if TYPE_CHECKING:
    from bec_core.redis_connector.async_connector import Pipe
    from bec_device_server.devices import DeviceEntry

T = TypeVar("T")


class Deadline:
    """A point in loop time; :meth:`remaining` is never negative."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.loop = loop
        self.at = loop.time() + seconds

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - self.loop.time())


@dataclass
class Job:
    """An instruction being executed: where its publications go and how long an action may take."""

    instr: DeviceInstructionMessage
    pipe: Pipe  #: the instruction's publications, written with its reply (a RawPipeline)
    timeout: float
    loop: asyncio.AbstractEventLoop
    readings: Readings = field(default_factory=Readings)
    #: runs the publication of readings taken from :attr:`readings` (``Readings.take()``), without
    #: the reply (set by the instruction processor; a job of its own has nowhere to publish to)
    publisher: Callable[[tuple[Any, ...]], Awaitable[None]] | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        """The instruction's metadata (copied into every publication)."""
        return self.instr.metadata

    @property
    def action(self) -> str:
        """The instruction's action."""
        return self.instr.action

    def publication(self) -> Awaitable[None]:
        """The readings collected so far (and their segment), taken now: awaiting the result
        publishes them in one command, without the reply."""
        if self.publisher is None:
            raise InstructionError(f"{self.action}: this job cannot publish before its reply")
        return self.publisher(self.readings.take())

    def deadline(self) -> Deadline:
        """A fresh deadline of ``timeout`` seconds."""
        return Deadline(self.loop, self.timeout)

    def names(self, all_if_none: bool = False) -> list[str] | None:
        """The device names of the instruction (None means all when ``all_if_none``)."""
        device = self.instr.device
        if device is None:
            return None if all_if_none else []
        if isinstance(device, str):
            return [device]
        return list(device)

    async def for_each(
        self,
        items: Iterable[tuple[str, DeviceEntry]],
        func: Callable[[str, DeviceEntry], Awaitable[T]],
    ) -> dict[str, T]:
        """Run ``func(name, entry)`` for every device concurrently; combine the errors into one."""
        items = list(items)
        if len(items) == 1:
            name, entry = items[0]
            return {name: await self._guard(name, entry, func)}
        results = await asyncio.gather(*(self._guard(n, e, func) for n, e in items), return_exceptions=True)
        raise_combined(
            [(n, r) for (n, _), r in zip(items, results, strict=True) if isinstance(r, BaseException)]
        )
        return {n: r for (n, _), r in zip(items, results, strict=True)}  # type: ignore[misc]

    async def _guard(
        self, name: str, entry: DeviceEntry, func: Callable[[str, DeviceEntry], Awaitable[T]]
    ) -> T:
        try:
            return await func(name, entry)
        except (DeviceActionError, InstructionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise action_error(name, self.action, exc) from exc


def action_error(name: str, action: str, exc: BaseException) -> DeviceActionError:
    """A DeviceActionError naming the device and action for an exception a device raised."""
    if isinstance(exc, DeviceActionError):
        return exc
    text = str(exc) or type(exc).__name__
    root = name.split(".", 1)[0]
    for prefix in (f"{name}: ", f"{root}: "):
        text = text.removeprefix(prefix)
    return DeviceActionError(
        f"{name}: {action} failed: {type(exc).__name__}: {text}", root, type(exc).__name__
    )


def raise_combined(errors: list[tuple[str, BaseException]]) -> None:
    """Raise nothing, the one error, or one error naming every failed device."""
    for _, exc in errors:
        if isinstance(exc, asyncio.CancelledError):
            raise exc
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0][1]
    names = [n for n, _ in errors]
    text = "; ".join(str(e) for _, e in errors)
    types = {getattr(e, "exception_type", type(e).__name__) for _, e in errors}
    err = InstructionError(text, names)
    err.exception_type = types.pop() if len(types) == 1 else "DeviceError"  # type: ignore[attr-defined]
    raise err


def param(job: Job, key: str, kind: type, default: Any) -> Any:
    """Parameter ``key`` of the instruction, checked to be of ``kind`` (bool is not an int here)."""
    value = job.instr.parameter.get(key, default)
    if value is None:
        return default
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise InstructionError(
            f"{job.action}: parameter {key!r} must be {kind.__name__}, not {type(value).__name__} ({value!r})"
        )
    return value


def resolve_target(entry: DeviceEntry, name: str) -> Any:
    """The ophyd object for ``dev`` or a sub-signal ``dev.sub.sig`` (public attributes only)."""
    obj = entry.obj
    for part in name.split(".")[1:]:
        if not part or part.startswith("_") or not hasattr(obj, part):
            raise InstructionError(f"{name}: {entry.name} has no public component {part!r}", entry.name)
        obj = getattr(obj, part)
    return obj


__all__ = ["Deadline", "Job", "action_error", "param", "raise_combined", "resolve_target"]
