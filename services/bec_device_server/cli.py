"""``bec-device-server --redis HOST:PORT [--config DEVICES.yaml | --initial-config DEVICES.yaml]``.

Where the devices come from:

* ``--config FILE``: this file (``!include`` resolved), replacing what Redis holds
  (the replaced config is kept in ``info/devices/config_history``);
* otherwise the config stored in Redis (``info/devices/config``): the last one
  applied, runtime changes included, as stock BEC's device server starts;
* ``--initial-config FILE`` is used only when Redis holds no config at all (a
  fresh Redis); ``bec-server start`` passes the checkout's demo config this way.

Exit codes as every bec-core service: 0 clean stop, 1 crash, 2 start-up failure
(Redis unreachable, unreadable settings or device file, or every enabled device
failed to build, unless ``--start-without-devices`` or the setting
``device_server.start_without_devices``). A device entry with an invalid field
does not stop the server: it is reported (log and alarm, naming the file, the
device and the field) and left out.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from bec_core.config import ServiceSettings
from bec_core.service import run_service
from bec_device_server.config import DeviceConfig, read_device_file, validate_devices_lenient
from bec_device_server.server import DeviceServer
from bec_device_server.startup import pause_gc

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The device server's own flags."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config",
        type=Path,
        metavar="DEVICES.yaml",
        help="load this device configuration (BEC's YAML format, !include allowed) instead of the "
        "one stored in Redis",
    )
    source.add_argument(
        "--initial-config",
        type=Path,
        metavar="DEVICES.yaml",
        help="device configuration to load only if Redis holds none yet; otherwise the stored one "
        "(the last applied, runtime changes included) is restored",
    )
    parser.add_argument(
        "--start-without-devices",
        action="store_true",
        help="keep running even if every enabled device fails to build (default: exit 2)",
    )


def _read(path: Path) -> tuple[dict[str, DeviceConfig], dict[str, str]]:
    devices, invalid = validate_devices_lenient(read_device_file(path), str(path))
    for text in invalid.values():
        log.error("%s", text)
    return devices, invalid


def build_server(settings: ServiceSettings, args: argparse.Namespace) -> DeviceServer:
    """Read the device file(s) and create the service (ConfigError if a file is unusable)."""
    keep_going = bool(args.start_without_devices or settings.device_server.start_without_devices)
    if args.config is not None:
        devices, invalid = _read(args.config)
        return DeviceServer(
            settings,
            devices,
            invalid_devices=invalid,
            source=f"--config {args.config}",
            start_without_devices=keep_going,
        )
    initial = _read(args.initial_config) if args.initial_config is not None else None
    return DeviceServer(
        settings,
        restore=True,
        initial=initial,
        source=f"--initial-config {args.initial_config}" if initial is not None else "",
        start_without_devices=keep_going,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bec-device-server``."""
    pause_gc()  # until RUNNING (startup.py)
    return run_service(build_server, "bec-device-server: owns the devices", argv, add_arguments)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
