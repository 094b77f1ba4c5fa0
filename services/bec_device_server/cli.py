"""``bec-device-server --redis HOST:PORT --config DEVICES.yaml [--service-config FILE]``.

Exit codes as every bec-core service: 0 clean stop, 1 crash, 2 start-up failure
(Redis unreachable, unreadable settings or device file). A device entry with an
invalid field does not stop the server: it is reported (log and alarm, naming
the file, the device and the field) and left out.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from bec_core.config import ServiceSettings
from bec_core.service import run_service
from bec_device_server.config import read_device_file, validate_devices_lenient
from bec_device_server.server import DeviceServer
from bec_device_server.startup import pause_gc

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The device server's own flags."""
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        metavar="DEVICES.yaml",
        help="device configuration in BEC's YAML format, e.g. config/devices/demo.yaml",
    )


def build_server(settings: ServiceSettings, args: argparse.Namespace) -> DeviceServer:
    """Read the device file and create the service (ConfigError if the file is unusable)."""
    devices, invalid = validate_devices_lenient(read_device_file(args.config), str(args.config))
    for text in invalid.values():
        log.error("%s", text)
    return DeviceServer(settings, devices, invalid_devices=invalid)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec-device-server``."""
    pause_gc()  # until RUNNING (startup.py)
    return run_service(build_server, "bec-device-server: owns the devices", argv, add_arguments)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
