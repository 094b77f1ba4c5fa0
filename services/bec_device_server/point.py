"""The ``point`` action: one whole step-scan point (or several in a row) in one round trip.

``parameter = {"set": {dev: value}, "settling_time", "trigger": [devs], "min_wait",
"settling_time_after_trigger", "read": [devs]}``: all moves run concurrently
and are awaited, then the triggers (concurrently), then the read devices are
read concurrently and published as ``device_read`` with the instruction's
metadata. The reply's result is ``{dev: signals}``, unless the instruction asks
for its scan segment (``"segment"``, see :class:`~bec_device_server.publish.Segment`):
then the readings are published as that segment in the same command, and the
result is None. The locks of every device involved are held for the whole point.

With ``"points": [{"set": {dev: value}, "segment": {...}}, ...]`` instead of ``set`` and
``segment``, the points run one after the other, each as above (``settling_time`` only
after a point that moves something), each point's readings and segment published as soon
as it is read (with ``point_id`` = its segment's in the readings' metadata; a point read while
the points before it are still being written goes out with the next one), the last one with the
reply (result None). The locks are taken per point; a failed or cancelled point
ends the instruction, and no point after it runs. ``timeout`` is each action's deadline,
as for one point.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bec_device_server.bridge import run_action
from bec_device_server.errors import InstructionError
from bec_device_server.jobs import Job, param
from bec_device_server.publish import Segment

if TYPE_CHECKING:
    from bec_device_server.actions import Actions
    from bec_device_server.devices import DeviceEntry


def _names(job: Job, key: str) -> list[str]:
    names = param(job, key, list, [])
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise InstructionError(f"point: parameter {key!r} must be a list of device names, got {bad!r}")
    return names


async def run_point(actions: Actions, job: Job) -> dict[str, Any] | None:
    """Execute a point instruction; returns ``{dev: signals}`` of the read devices (None when it
    publishes them as its scan segment, or runs several points)."""
    common = _Common.parse(actions, job)
    raw_points = job.instr.parameter.get("points")
    if raw_points is None:
        moves = param(job, "set", dict, {})
        raw_segment = job.instr.parameter.get("segment")
        segment = Segment.parse(raw_segment) if raw_segment is not None else None
        readings = await _one_point(actions, job, common, moves, common.settling, job.metadata)
        return _published(job, readings, job.metadata, segment)
    points = _parse_points(job, raw_points)
    publication: asyncio.Future[None] | None = None  # in flight while the next point runs
    try:
        for i, (moves, segment) in enumerate(points):
            metadata = {**job.metadata, "point_id": segment.point_id}
            settling = common.settling if moves else 0.0
            readings = await _one_point(actions, job, common, moves, settling, metadata)
            _published(job, readings, metadata, segment)
            if i == len(points) - 1:
                break  # the last point's readings go out with the reply
            if publication is not None and not publication.done():
                continue  # still writing the points before: this one goes out with the next
            if publication is not None:
                publication.result()  # a failed publication ends the instruction
            publication = asyncio.ensure_future(job.publication())
    except BaseException:
        if publication is not None:  # the points published already go out before the error
            await asyncio.gather(publication, return_exceptions=True)
        raise
    if publication is not None:
        await publication  # in order: the points before go out before the reply
    return None


@dataclass(frozen=True, slots=True)
class _Common:
    """What every point of an instruction shares: timing, triggered and read devices."""

    settling: float
    triggers: dict[str, DeviceEntry]
    min_wait: float
    settling_after: float
    reads: list[DeviceEntry]

    @classmethod
    def parse(cls, actions: Actions, job: Job) -> _Common:
        server = actions.server
        triggers = _names(job, "trigger")
        reads = _names(job, "read")
        return cls(
            param(job, "settling_time", float, 0.0),
            server.resolve(triggers) if triggers else {},
            param(job, "min_wait", float, 0.0),
            param(job, "settling_time_after_trigger", float, 0.0),
            list(server.resolve(reads).values()) if reads else [],
        )


def _parse_points(job: Job, raw: Any) -> list[tuple[dict[str, Any], Segment]]:
    """``parameter["points"]`` as (moves, segment) pairs; :class:`InstructionError` names what is wrong."""
    if "set" in job.instr.parameter or "segment" in job.instr.parameter:
        raise InstructionError("point: give either 'points' or 'set'/'segment', not both")
    if not isinstance(raw, list) or not raw:
        raise InstructionError(f"point: parameter 'points' must be a non-empty list, not {raw!r:.80}")
    points = []
    for n, item in enumerate(raw):
        moves = item.get("set") if isinstance(item, dict) else None
        if not isinstance(moves, dict) or "segment" not in item:
            raise InstructionError(
                f"point: points[{n}] must be a dict with 'set' and 'segment', not {item!r:.120}"
            )
        points.append((moves, Segment.parse(item["segment"])))
    return points


async def _one_point(
    actions: Actions,
    job: Job,
    common: _Common,
    moves: dict[str, Any],
    settling: float,
    metadata: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """Move, settle, trigger, wait and read one point under its devices' locks; the readings."""
    server = actions.server
    set_entries = server.resolve(list(moves), writable=True) if moves else {}
    involved = {*set_entries.values(), *common.triggers.values(), *common.reads}

    async def trigger_one(name: str, entry: DeviceEntry) -> None:
        await run_action(
            server.loop,
            server.executor,
            entry.obj.trigger,
            device=name,
            action="trigger",
            timeout=job.timeout,
            inline=entry.inline,
        )

    async with server.devices.locked(involved):
        if set_entries:
            await job.for_each(
                set_entries.items(),
                lambda n, e: actions.set_one(job, e, n, moves[n], publish=False, metadata=metadata),
            )
        if settling > 0:
            await asyncio.sleep(settling)  # the scan's settling time, not a wait for an event
        started = server.loop.time()
        if common.triggers:
            await job.for_each(common.triggers.items(), trigger_one)
        rest = common.min_wait - (server.loop.time() - started)
        if rest > 0:
            await asyncio.sleep(rest)  # exposure that outlasts a software trigger's status
        if common.settling_after > 0:
            await asyncio.sleep(common.settling_after)
        return await server.read_many(job, common.reads, metadata) if common.reads else {}


def _published(
    job: Job, readings: dict[str, dict[str, Any]], metadata: dict[str, Any], segment: Segment | None
) -> dict[str, Any] | None:
    """Queue the readings (and the segment) on the job; the reply's result."""
    add = job.readings.add
    for name, signals in readings.items():
        add(name, signals, metadata, True)
    if segment is not None:
        job.readings.segment(segment)
        return None
    return readings


__all__ = ["run_point"]
