"""Device and signal resolution against the ``device_info`` our device server publishes (real Redis).

The device info is produced by ``bec_device_server.info.device_info`` from real
ophyd objects, a nested device included (stock's ``hexapod.x``), and stored
where the device server stores it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bec_device_server.info import device_info
from bec_device_server.sim import SimPositioner
from bec_scan_server.beamline.catalog import DeviceCatalog, StateConfigError, Target
from ophyd import Component, Device, Signal
from ophyd.sim import SynAxis

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import DeviceInfoMessage
from bec_core.redis_connector import AsyncRedisConnector


class Hexapod(Device):
    x = Component(SynAxis)
    y = Component(SynAxis)


@pytest.fixture
async def catalog(clean_redis: str) -> AsyncIterator[DeviceCatalog]:
    conn = await AsyncRedisConnector(clean_redis).connect()
    for obj in (SimPositioner(name="samx"), Hexapod(name="hexapod"), Signal(name="beam", value=1.0)):
        await conn.set(
            MessageEndpoints.device_info(obj.name),
            DeviceInfoMessage(device=obj.name, info={"device_info": device_info(obj)}),
        )
    try:
        yield DeviceCatalog(conn)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("device", "signal", "expected"),
    [
        ("samx", None, Target("samx", "samx", "samx", "samx")),
        ("samx", "samx.readback", Target("samx", "samx", "samx", "samx")),
        ("samx", "samx_setpoint", Target("samx", "samx", "samx", "samx_setpoint")),
        ("samx.velocity", None, Target("samx", "samx.velocity", "samx_velocity", "samx_velocity")),
        ("hexapod.x", "hexapod.x.readback", Target("hexapod", "hexapod.x", "hexapod_x", "hexapod_x")),
        ("hexapod.x", None, Target("hexapod", "hexapod.x", "hexapod_x", "hexapod_x")),
        ("beam", None, Target("beam", "beam", "beam", "beam")),
    ],
)
async def test_resolves_like_stock(
    catalog: DeviceCatalog, device: str, signal: str | None, expected: Target
) -> None:
    assert await catalog.resolve("s", device, signal) == expected


@pytest.mark.parametrize(
    ("device", "signal", "text"),
    [
        ("ghost", None, "[BL State s]: Device 'ghost' not found."),
        ("hexapod.z", None, "[BL State s]: Device 'hexapod.z' not found."),
        ("samx", "samx.nothing", "[BL State s]: Signal 'samx.nothing' not found for device 'samx'."),
        ("hexapod.x", "hexapod.y.readback", "does not belong to device 'hexapod.x'"),
        ("samx", "nothing", "[BL State s]: Signal 'nothing' not found for device 'samx'. Make sure"),
        ("beam", "other", "[BL State s]: Signal 'other' does not match signal device 'beam'."),
    ],
)
async def test_refuses_with_stock_texts(
    catalog: DeviceCatalog, device: str, signal: str | None, text: str
) -> None:
    with pytest.raises(StateConfigError) as info:
        await catalog.resolve("s", device, signal)
    assert text in str(info.value)
