"""The shortcuts of the point hot path give exactly what the long ways give."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bec_device_server.devices import DeviceLock
from bec_device_server.errors import InstructionError
from bec_device_server.publish import Readings, Segment, encode_reading, encode_segment
from bec_device_server.sim import SimCamera, SimFailing, SimMonitor, SimPositioner
from ophyd import Device, Kind
from ophyd.utils import DisconnectedError

from bec_core.messages import DeviceMessage, ScanMessage
from bec_core.serialization import dumps, loads


def sims() -> list[Device]:
    return [
        SimMonitor(name="mon", noise="none", value=3.0),
        SimPositioner(name="samx", delay=0, limits=[-5, 5]),
        SimCamera(name="cam", image_shape=[4, 3]),
        SimFailing(name="fail"),
    ]


@pytest.mark.parametrize("dev", sims(), ids=lambda d: d.name)
def test_lean_read_and_repr_are_ophyds(dev: Device) -> None:
    for _ in range(2):  # computed once, then cached
        lean, full = dev.read(), Device.read(dev)
        assert type(lean) is type(full) and list(lean) == list(full)
        assert {k: set(v) for k, v in lean.items()} == {k: set(v) for k, v in full.items()}
        assert repr(dev) == Device.__repr__(dev)
    assert list(dev.read()) == list(dev.describe())


def test_lean_read_follows_kind_changes() -> None:
    motor = SimPositioner(name="samx", delay=0)
    assert list(motor.read()) == ["samx", "samx_setpoint", "samx_motor_is_moving"]
    before = repr(motor)
    motor.setpoint.kind = Kind.omitted
    assert list(motor.read()) == list(Device.read(motor)) == ["samx", "samx_motor_is_moving"]
    assert repr(motor) == Device.__repr__(motor) != before
    motor.read_attrs = ["readback"]
    assert list(motor.read()) == ["samx"] and repr(motor) == Device.__repr__(motor)
    motor.set(2.0)
    assert motor.read()["samx"]["value"] == 2.0


def test_lean_read_of_a_destroyed_signal_raises_like_ophyd() -> None:
    mon = SimMonitor(name="mon")
    mon.read()
    mon.readback.destroy()
    with pytest.raises(DisconnectedError):
        mon.read()


def test_encode_reading_is_dumps_of_the_device_message() -> None:
    signals = {
        "cam_image": {"value": np.arange(6, dtype=np.uint16).reshape(2, 3), "timestamp": 1.5},
        "cam_frame": {"value": np.float64(2.5), "timestamp": 2.0},
        "x": {"value": None, "timestamp": 0},
    }
    metadata = {"scan_id": "s", "point_id": 3, "RID": "r", "nested": {"a": [1, 2]}}
    expected = dumps(DeviceMessage(signals=signals, metadata=metadata))
    assert encode_reading(signals, metadata) == expected
    assert encode_reading(signals, metadata, dumps(metadata)) == expected
    assert encode_reading({}, {}) == dumps(DeviceMessage(signals={}, metadata={}))
    decoded = loads(expected)
    assert isinstance(decoded, DeviceMessage) and decoded.metadata == metadata


def test_readings_take_indexes_names_and_values() -> None:
    readings = Readings()
    meta = {"point_id": 1}
    readings.add("mon", {"mon": {"value": 1.0, "timestamp": 1.0}}, meta)
    readings.add("détecteur", {"d": {"value": 2.0, "timestamp": 1.0}}, meta, readback=False)
    index, blob, channel, raw, stream, group, entry, *segment = readings.take(
        reply=("ch", b"R"), ack=("st", "g", "1-0")
    )
    assert (channel, raw, stream, group, entry) == ("ch", b"R", "st", "g", "1-0")
    assert segment == ["", "", b"", "", "", ""]  # no segment asked for
    parts = index.split()
    pos, found = 0, []
    for flags, name_len, value_len in zip(parts[::3], parts[1::3], parts[2::3], strict=True):
        name = blob[pos : pos + int(name_len)]
        value = blob[pos + int(name_len) : pos + int(name_len) + int(value_len)]
        pos += int(name_len) + int(value_len)
        found.append((flags, name.decode(), loads(value).signals))
    assert pos == len(blob)
    assert found == [
        ("3", "mon", {"mon": {"value": 1.0, "timestamp": 1.0}}),
        ("1", "détecteur", {"d": {"value": 2.0, "timestamp": 1.0}}),
    ]
    assert readings.take()[:2] == ("", b"")  # started over


def _segment(**changes: object) -> dict:
    spec = {
        "scan_id": "5a1b", "point_id": 7, "metadata": {"scan_id": "5a1b", "scan_type": "step"},
        "key": "info/public/5a1b/scan_segment/7", "expire": 3600, "guard": "g/5a1b/7", "forget": "",
    }  # fmt: skip
    return {**spec, **changes}


@pytest.mark.parametrize("devices", [0, 1, 15, 16, 60])
def test_a_segment_is_the_scan_message_the_scan_server_would_publish(devices: int) -> None:
    """The segment spliced from the readings' encoded signals equals ``dumps(ScanMessage(...))``."""
    readings = Readings()
    data = {
        f"dev{i}-é": {f"dev{i}": {"value": i * 0.5, "timestamp": 1.0}, "img": {"value": np.arange(3.0)}}
        for i in range(devices)
    }
    for name, signals in data.items():
        readings.add(name, signals, {"point_id": 7})
    spec = Segment.parse(_segment())
    readings.segment(spec)
    *_, key, channel, raw, expire, guard, forget = readings.take()
    expected = ScanMessage(point_id=7, scan_id="5a1b", data=data, metadata=spec.metadata)
    assert raw == dumps(expected)
    assert (key, channel, expire, guard, forget) == (
        spec.key,
        "info/scans/scan_segment",
        "3600",
        "g/5a1b/7",
        "",
    )
    assert encode_segment(spec, []) == dumps(
        ScanMessage(point_id=7, scan_id="5a1b", data={}, metadata=spec.metadata)
    )


def test_segments_queued_one_after_the_other_each_hold_their_own_readings() -> None:
    """Two points collected for one command: six arguments per segment, in order, each segment with
    the readings added since the one before; the readings of both points are all published."""
    readings = Readings()
    expected = []
    for point_id in (7, 8):
        data = {"samx": {"samx": {"value": float(point_id), "timestamp": 1.0}}}
        readings.add("samx", data["samx"], {"point_id": point_id})
        spec = Segment.parse(_segment(point_id=point_id, key=f"k/{point_id}", guard=f"g/{point_id}"))
        readings.segment(spec)
        expected.append(ScanMessage(point_id=point_id, scan_id="5a1b", data=data, metadata=spec.metadata))
    args = readings.take()
    index, segments = args[0], args[7:]
    assert index.count(" ") == 6  # two readings of samx (three fields each)
    assert len(segments) == 12
    assert [segments[0], segments[6]] == ["k/7", "k/8"]
    assert [segments[2], segments[8]] == [dumps(m) for m in expected]
    assert [segments[4], segments[10]] == ["g/7", "g/8"]
    assert readings.take()[7:] == ("", "", b"", "", "", "")  # started over: no segment


@pytest.mark.parametrize(
    "changes",
    [
        {"point_id": "7"},
        {"point_id": True},
        {"metadata": None},
        {"key": ""},
        {"expire": 0},
        {"guard": 5},
        {"forget": 1},
    ],
)
def test_a_malformed_segment_is_refused_naming_the_field(changes: dict) -> None:
    with pytest.raises(InstructionError, match="segment"):
        Segment.parse(_segment(**changes))


async def test_device_lock_is_fifo_and_survives_cancelled_waiters() -> None:
    lock = DeviceLock()
    order: list[int] = []

    async def user(i: int) -> None:
        async with lock:
            order.append(i)
            await asyncio.sleep(0)  # give up the loop while holding the lock (no clock involved)

    assert lock.try_acquire() and not lock.try_acquire()
    tasks = [asyncio.create_task(user(i)) for i in range(5)]
    await asyncio.sleep(0)  # one scheduler pass: every task is now queued on the lock
    tasks[2].cancel()  # a waiter that gives up keeps its place from mattering
    lock.release()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 1, 3, 4] and not lock.locked()

    assert lock.try_acquire()
    waiter = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)  # one scheduler pass: the waiter is now queued on the lock
    lock.release()  # handed to the waiter ...
    waiter.cancel()  # ... which is cancelled before it runs: it passes the lock on
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
