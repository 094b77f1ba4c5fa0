"""A stand-in service for the launcher tests: a real bec_core Service with a chosen name and fault.

Run as ``python fake_service.py --fake-name DeviceServer [--fake-extra ScanBundler]
[--fake-mode ok|crash|exit|hang|ignore-term] [--config FILE] --redis ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bec_core.config import ServiceSettings
from bec_core.service import Service, run_service


class FakeService(Service):
    """Publishes heartbeats like a real service; ``mode`` picks a fault."""

    mode = "ok"

    async def setup(self) -> None:
        if self.mode == "crash":
            raise RuntimeError("boom: fake service crashed in setup")
        if self.mode == "hang":
            await asyncio.Event().wait()
        if self.mode == "ignore-term":
            # in setup, i.e. before the heartbeat says RUNNING: once start() returns it is in place
            loop = asyncio.get_running_loop()
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("fake service ignores SIGTERM from now on", file=sys.stderr, flush=True)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fake-name", required=True)
    parser.add_argument("--fake-extra", action="append", default=[])
    parser.add_argument("--fake-mode", default="ok")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--initial-config", type=Path)


def _factory(settings: ServiceSettings, args: argparse.Namespace) -> Service:
    cls = type(
        "Fake" + args.fake_name,
        (FakeService,),
        {"name": args.fake_name, "extra_heartbeats": tuple(args.fake_extra), "mode": args.fake_mode},
    )
    return cls(settings)


def main() -> int:
    """Parse flags like a real service; ``--fake-mode exit`` fails before connecting."""
    if "exit" in sys.argv and sys.argv[sys.argv.index("exit") - 1] == "--fake-mode":
        print("error: devices.yaml: line 3: unknown device class 'Nope'", file=sys.stderr)
        return 3
    return run_service(_factory, "fake-service: launcher test stand-in", add_arguments=_arguments)


if __name__ == "__main__":
    sys.exit(main())
