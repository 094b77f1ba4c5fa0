"""``ophyd_devices.SlitProxy`` (a ``BECDeviceBase`` device proxy, no ophyd object) hosted as stock hosts it.

Stock builds proxies after every other device, applies their ``deviceConfig`` (which
compiles the proxy's ``lookup``), registers them with the camera they serve, and
publishes the ``device_info`` recorded in ``tests/data/device_info/stock_proxy_info.json``
(``tests/data/device_info/regenerate_proxy.py``). The camera's image is then the
proxy's: a slit mask that moves with ``samx``/``samy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from test_stock_device_info import differences, shape

from bec_core.endpoints import MessageEndpoints

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "device_info" / "stock_proxy_info.json"
STOCK = json.loads(REFERENCE.read_text())
PROXY_CONFIG = {
    "proxy_cam_test": {
        "signal_name": "image",
        "center_offset": [0, 0],
        "covariance": [[1000, 500], [200, 1000]],
        "pixel_size": 0.01,
        "ref_motors": ["samx", "samy"],
        "slit_width": [1, 1],
        "motor_dir": [0, 1],
    }
}


def devices(**extra: dict[str, Any]) -> dict[str, Any]:
    """Two motors, the camera and the slit proxy, as in bec_lib's test config."""
    motor = {"deviceClass": "ophyd_devices.SimPositioner", "readoutPriority": "baseline", "enabled": True}
    out = {
        # the proxy first: it must still be built after the devices it serves
        "sim_proxy_test": {
            "deviceClass": "ophyd_devices.SlitProxy",
            "deviceConfig": PROXY_CONFIG,
            "readoutPriority": "on_request",
            "enabled": True,
        },
        "samx": {**motor, "deviceConfig": {"delay": 0, "limits": [-50, 50]}},
        "samy": {**motor, "deviceConfig": {"delay": 0, "limits": [-50, 50]}},
        "proxy_cam_test": {
            "deviceClass": "ophyd_devices.SimCamera",
            "deviceConfig": {"device_access": True},
            "readoutPriority": "monitored",
            "enabled": True,
        },
    }
    out.update(extra)
    return out


async def test_slit_proxy_is_built_registered_and_published_as_stock(
    start_server: Any, stop_servers: None, conn: Any
) -> None:
    import ophyd_devices

    server = await start_server(devices())
    entries = server.devices.entries
    proxy, camera = entries["sim_proxy_test"], entries["proxy_cam_test"]
    assert proxy.enabled and proxy.error is None
    assert type(proxy.obj) is ophyd_devices.SlitProxy
    assert camera.obj.registered_proxies == {"sim_proxy_test": "image"}
    assert set(proxy.obj.lookup) == {"proxy_cam_test"}

    info = (await conn.get(MessageEndpoints.device_info("sim_proxy_test"))).info
    assert differences(shape(info), shape(STOCK["info"])) == []
    assert info["device_class"] == "SlitProxy" and info["device_base_class"] == "device"
    config = {d["name"]: d for d in (await conn.get(MessageEndpoints.device_config())).resource}
    assert config["sim_proxy_test"]["enabled"] is True

    # the camera's image is the proxy's slit mask: dark far away from the slit, bright on it
    on_slit = np.asarray(camera.obj.image.get(), dtype=float)
    entries["samx"].obj.move(40, wait=True)
    entries["samy"].obj.move(40, wait=True)
    off_slit = np.asarray(camera.obj.image.get(), dtype=float)
    assert on_slit.sum() > 10 * max(off_slit.sum(), 1.0)


async def test_a_proxy_for_a_missing_device_is_kept_disabled_not_fatal(
    start_server: Any, stop_servers: None, conn: Any
) -> None:
    config = devices()
    del config["proxy_cam_test"]
    server = await start_server(config)
    proxy = server.devices.entries["sim_proxy_test"]
    assert not proxy.enabled and "no device proxy_cam_test found" in (proxy.error or "")
    assert server.devices.entries["samx"].enabled
    stored = {d["name"]: d for d in (await conn.get(MessageEndpoints.device_config())).resource}
    assert stored["sim_proxy_test"]["enabled"] is False
