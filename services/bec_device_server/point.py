"""The ``point`` action: one whole step-scan point in one round trip.

``parameter = {"set": {dev: value}, "settling_time", "trigger": [devs], "min_wait",
"settling_time_after_trigger", "read": [devs]}``: all moves run concurrently
and are awaited, then the triggers (concurrently), then the read devices are
read concurrently and published as ``device_read`` with the instruction's
metadata. The reply's result is ``{dev: signals}``, unless the instruction asks
for its scan segment (``"segment"``, see :class:`~bec_device_server.publish.Segment`):
then the readings are published as that segment in the same command, and the
result is None. The locks of every device involved are held for the whole point.
"""

from __future__ import annotations

import asyncio
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
    publishes them as its scan segment)."""
    server = actions.server
    moves = param(job, "set", dict, {})
    settling = param(job, "settling_time", float, 0.0)
    triggers = _names(job, "trigger")
    min_wait = param(job, "min_wait", float, 0.0)
    settling_after = param(job, "settling_time_after_trigger", float, 0.0)
    reads = _names(job, "read")
    raw_segment = job.instr.parameter.get("segment")
    segment = Segment.parse(raw_segment) if raw_segment is not None else None
    set_entries = server.resolve(list(moves), writable=True) if moves else {}
    trigger_entries = server.resolve(triggers) if triggers else {}
    read_entries = server.resolve(reads) if reads else {}
    involved = {*set_entries.values(), *trigger_entries.values(), *read_entries.values()}

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
                set_entries.items(), lambda n, e: actions.set_one(job, e, n, moves[n], publish=False)
            )
        if settling > 0:
            await asyncio.sleep(settling)  # the scan's settling time, not a wait for an event
        started = server.loop.time()
        if trigger_entries:
            await job.for_each(trigger_entries.items(), trigger_one)
        rest = min_wait - (server.loop.time() - started)
        if rest > 0:
            await asyncio.sleep(rest)  # exposure that outlasts a software trigger's status
        if settling_after > 0:
            await asyncio.sleep(settling_after)
        readings = await server.read_many(job, list(read_entries.values())) if read_entries else {}
    add, metadata = job.readings.add, job.metadata
    for name, signals in readings.items():
        add(name, signals, metadata, True)
    if segment is not None:
        job.readings.segment(segment)
        return None
    return readings


__all__ = ["run_point"]
