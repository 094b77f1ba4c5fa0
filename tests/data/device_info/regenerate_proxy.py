"""Record stock BEC's ``device_info`` of a device proxy (``ophyd_devices.SlitProxy``).

Runs stock BEC 4.3.2's device server (``BEC_STOCK_VENV``, default ``/work/stockvenv``)
against a scratch redis-server on ``BEC_REF_REDIS_PORT`` (default 6400) with the
proxy part of bec_lib's test config (``samx``, ``samy``, ``proxy_cam_test``,
``sim_proxy_test``) stored in ``info/devices/config`` as stock's SciHub would, and
writes ``stock_proxy_info.json`` next to this file. Run it with stock's Python::

    /work/stockvenv/bin/python tests/data/device_info/regenerate_proxy.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from regenerate import HERE, _plain, _wait, stock_device_server

NAMES = ("samx", "samy", "proxy_cam_test", "sim_proxy_test")


def main() -> int:
    import bec_lib
    import yaml
    from bec_lib.endpoints import MessageEndpoints

    test_config = yaml.safe_load((Path(bec_lib.__file__).parent / "tests" / "test_config.yaml").read_text())
    devices = [{"name": n, **test_config[n]} for n in NAMES]
    with stock_device_server(devices) as conn:
        _wait(
            lambda: conn.get(MessageEndpoints.device_info("sim_proxy_test")) is not None,
            "stock device_info of sim_proxy_test",
            120,
        )
        msg = conn.get(MessageEndpoints.device_info("sim_proxy_test"))
        stored = conn.get(MessageEndpoints.device_config()).content["resource"]
        out = {
            "device": "sim_proxy_test",
            "deviceConfig": test_config["sim_proxy_test"]["deviceConfig"],
            "info": msg.info,
            "enabled_after_start": {d["name"]: d["enabled"] for d in stored},
        }
        (HERE / "stock_proxy_info.json").write_text(
            json.dumps(out, indent=1, sort_keys=True, default=_plain) + "\n"
        )
        print(f"wrote {HERE / 'stock_proxy_info.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
