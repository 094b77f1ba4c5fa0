"""A real stack for file-writer tests: redis-server, bec-device-server, bec-scan-server and
bec-file-writer as processes (also used by tests/faults/test_file_writer_*.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

HERE = Path(__file__).resolve()
for _path in (
    HERE.parents[2] / "integration" / "scan_server",
    HERE.parents[2] / "integration" / "file_writer",
):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fw_harness import Writer  # noqa: E402
from ss_harness import scan_stack, write_devices  # noqa: E402

MONITORS = "".join(
    f"mon{i:02d}:\n  deviceClass: ophyd_devices.SimMonitor\n  deviceConfig: null\n"
    "  readoutPriority: monitored\n  enabled: true\n"
    for i in range(8)
)


def service_config(path: Path, base_path: Path) -> Path:
    """A services YAML naming the file writer's base path."""
    path.write_text(yaml.safe_dump({"file_writer": {"base_path": str(base_path)}}))
    return path


@contextmanager
def running_stack(tmp: Path, base_path: Path | None = None, devices: str = MONITORS) -> Iterator[dict]:
    """Start the four processes (files under ``base_path``, default ``tmp/data``; ``devices``: YAML
    added to the test device set); stop them after."""
    services = service_config(tmp / "services.yaml", base_path or tmp / "data")
    with scan_stack(tmp, write_devices(tmp / "devices.yaml", devices), services) as env:
        env["services"] = services
        env["fw"] = Writer(env["url"], tmp, services).start()
        yield env
