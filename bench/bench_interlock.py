"""Scan interlock: time from the beam going bad to the scan paused, and from its return to running.

    python -m bench.bench_interlock [--repeats 10] [--exp-times 0.02 0.1] [--steps 60]

Starts a private redis-server, ``bec-device-server`` (a motor, a monitor, a
"beam" positioner) and ``bec-scan-server`` as processes. Configures, as a
stock client would, the beamline state ``beam_ok`` (DeviceWithinLimitsState,
beam >= 50) and the scan interlock (enabled, ``pause_scan``, watching
``beam_ok``). Each repeat runs a line scan; after 5 points the beam is set to
10 on the device server (t0), later back to 100. Measured from t0, by arrival
at a subscriber: the beam's readback, the state turning ``invalid``, the
queue ``LOCKED``, the scan status ``paused``, the last point segment before
the pause (the scan actually held), and points that still arrived after t0;
then from the beam's return to the scan status ``open`` again. The scan must
end ``closed`` with every point exactly once, or the repeat is reported as
failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import (
    AvailableBeamlineStatesMessage,
    BeamlineStateConfig,
    BECStatus,
    BoolConfigDefaultFalse,
    DeviceInstructionMessage,
    ScanInterlockModifyStateTableMessage,
    ScanInterlockTriggerSetting,
    ScanInterlockTriggerSettingMessage,
    ScanQueueMessage,
)
from bec_core.redis_connector import AsyncRedisConnector, MessageObject
from bec_core.redis_server import RedisServer
from bench.common import Stats, Table, print_tables, spawn, stop_group

BIN = Path(sys.executable).parent
DEVICES = (Path(__file__).resolve().parents[1] / "config" / "devices" / "interlock.yaml").read_text()
TIMEOUT = 60.0


class Events:
    """Arrival times (monotonic) of what the interlock path publishes."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str, Any]] = []
        self.changed = asyncio.Event()

    def cb(self, msg: MessageObject, kind: str) -> None:
        self.log.append((time.monotonic(), kind, msg.value))
        self.changed.set()

    async def first(self, pred: Any, since: float) -> float:
        """Arrival time of the first event after ``since`` matching ``pred(kind, value)``."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for t, kind, value in self.log:
                if t >= since and pred(kind, value):
                    return t
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("interlock event did not arrive")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass


async def _ready(conn: AsyncRedisConnector) -> None:
    for name in ("ScanServer", "DeviceServer"):
        async with conn.subscribe(MessageEndpoints.service_status(name)) as sub:
            msg = await conn.get(MessageEndpoints.service_status(name))
            while msg is None or msg.status != BECStatus.RUNNING:
                msg = (await sub.get(TIMEOUT)).value


async def _set_beam(conn: AsyncRedisConnector, value: float) -> None:
    instr = DeviceInstructionMessage(
        device="beam",
        action="set",
        parameter={"value": value},
        metadata={"device_instr_id": str(uuid.uuid4())},
    )
    await conn.xadd(MessageEndpoints.device_instructions(), {"data": instr})


async def _configure(conn: AsyncRedisConnector, ev: Events) -> None:
    await _set_beam(conn, 100.0)
    params = {"name": "beam_ok", "device": "beam", "signal": None, "low_limit": 50.0}
    params |= {"high_limit": None, "tolerance": 0.1}
    states = [BeamlineStateConfig(name="beam_ok", state_type="DeviceWithinLimitsState", parameters=params)]
    await conn.xadd(
        MessageEndpoints.available_beamline_states(),
        {"data": AvailableBeamlineStatesMessage(states=states)},
        max_size=1,
        approximate=False,
    )
    await ev.first(lambda k, v: k == "state" and v.status == "valid", 0)
    await conn.xadd(
        MessageEndpoints.scan_interlock_trigger_setting(),
        {"config": ScanInterlockTriggerSettingMessage(value=ScanInterlockTriggerSetting.PAUSE_SCAN)},
        max_size=1,
    )
    await conn.xadd(MessageEndpoints.scan_interlock_enabled(), {"config": BoolConfigDefaultFalse(value=True)})
    now = time.monotonic()
    await conn.xadd(
        MessageEndpoints.modify_interlock_table(),
        {"data": ScanInterlockModifyStateTableMessage(action="add", state_name="beam_ok", status=["valid"])},
    )
    await ev.first(lambda k, v: k == "notif", now)


async def _trial(
    conn: AsyncRedisConnector, ev: Events, exp_time: float, steps: int
) -> dict[str, float] | str:
    rid = str(uuid.uuid4())
    request = ScanQueueMessage(
        scan_type="line_scan",
        parameter={
            "args": {"samx": [-5, 5]},
            "kwargs": {"steps": steps, "exp_time": exp_time, "relative": False},
        },
        queue="primary",
        metadata={"RID": rid},
    )
    start = time.monotonic()
    await conn.send(MessageEndpoints.scan_queue_request("bench"), request)
    t_open = await ev.first(
        lambda k, v: k == "status" and v.status == "open" and v.metadata.get("RID") == rid, start
    )
    scan_id = next(v.scan_id for t, k, v in ev.log if t >= t_open and k == "status" and v.status == "open")
    mine = lambda k, v: k == "segment" and v.scan_id == scan_id  # noqa: E731
    await ev.first(lambda k, v: mine(k, v) and v.point_id == 4, start)
    t0 = time.monotonic()
    await _set_beam(conn, 10.0)
    out = {"readback": await ev.first(lambda k, v: k == "beam" and v.signals["beam"]["value"] < 50, t0)}
    out["state invalid"] = await ev.first(lambda k, v: k == "state" and v.status == "invalid", t0)
    out["queue LOCKED"] = await ev.first(
        lambda k, v: k == "queue" and v.queue["primary"].status == "LOCKED", t0
    )
    out["scan paused"] = await ev.first(
        lambda k, v: k == "status" and v.scan_id == scan_id and v.status == "paused", t0
    )
    t1 = time.monotonic()
    await _set_beam(conn, 100.0)
    t_resumed = await ev.first(lambda k, v: k == "status" and v.scan_id == scan_id and v.status == "open", t1)
    await ev.first(lambda k, v: k == "status" and v.scan_id == scan_id and v.status == "closed", t1)
    held = [t for t, k, v in ev.log if t0 <= t < t1 and mine(k, v)]
    points = [v.point_id for t, k, v in ev.log if t >= start and mine(k, v)]
    if points != list(range(steps)):
        return f"points not exactly once: {len(points)} segments, {len(set(points))} distinct"
    result = {k: (t - t0) * 1e3 for k, t in out.items()}
    result["last point before pause"] = ((max(held) - t0) * 1e3) if held else 0.0
    result["points after t0"] = float(len(held))
    result["back: resumed"] = (t_resumed - t1) * 1e3
    return result


async def run(repeats: int, exp_times: list[float], steps: int) -> list[Table]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-interlock-"))
    (tmp / "devices.yaml").write_text(DEVICES)
    redis = RedisServer(persistence="none", data_dir=tmp, log_file=tmp / "redis.log").start()
    log = tmp / "servers.log"
    procs = [
        spawn([str(BIN / "bec-device-server"), "--redis", redis.url, "--config", str(tmp / "devices.yaml"),
               "--log-level", "WARNING"], log),
        spawn([str(BIN / "bec-scan-server"), "--redis", redis.url, "--log-level", "WARNING"], log),
    ]  # fmt: skip
    tables = []
    try:
        conn = await AsyncRedisConnector(redis.url).connect()
        await _ready(conn)
        ev = Events()
        for kind, ep in {
            "status": MessageEndpoints.scan_status(),
            "segment": MessageEndpoints.scan_segment(),
            "queue": MessageEndpoints.scan_queue_status(),
            "beam": MessageEndpoints.device_readback("beam"),
            "notif": MessageEndpoints.builtin_actor_update_notif("ScanInterlockActor"),
        }.items():
            await conn.register(ep, ev.cb, kind=kind)
        await conn.register(MessageEndpoints.beamline_state("beam_ok"), ev.cb, kind="state", from_start=True)
        await _configure(conn, ev)
        for exp_time in exp_times:
            results: list[dict[str, float]] = []
            failures: list[str] = []
            for _ in range(repeats):
                r = await _trial(conn, ev, exp_time, steps)
                (failures.append(r) if isinstance(r, str) else results.append(r))
            table = Table(
                f"Scan interlock (pause_scan), line_scan exp_time={exp_time} s, {repeats} repeats",
                ["from beam lost (t0)", "median ms", "max ms"],
                key=f"interlock-{exp_time}",
            )
            for name in results[0] if results else []:
                stats = Stats([r[name] for r in results])
                if name == "points after t0":
                    table.rows.append([name + " (count)", stats.median, stats.max])
                else:
                    table.rows.append([name, stats.median, stats.max])
            table.notes.append(
                f"every scan closed with each of its {steps} points once: {len(failures) == 0}"
            )
            table.notes.extend(failures)
            tables.append(table)
        await conn.close()
    finally:
        for proc in procs:
            stop_group(proc)
        redis.stop()
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--exp-times", type=float, nargs="+", default=[0.02, 0.1])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    print_tables(asyncio.run(run(args.repeats, args.exp_times, args.steps)))


if __name__ == "__main__":
    main()
