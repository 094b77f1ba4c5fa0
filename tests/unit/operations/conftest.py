"""Fixtures for the launcher tests: stand-in services (fake_service.py) and launch options."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bec_core.config import load_settings
from bec_core.launcher import LaunchOptions, ServiceSpec, StateDir
from bec_core.launcher.procs import is_alive, stop_processes

FAKE = Path(__file__).with_name("fake_service.py")

MakeOpts = Callable[..., LaunchOptions]


def fake_specs(device_mode: str = "ok", scan_mode: str = "ok") -> tuple[ServiceSpec, ...]:
    """The two services bec-server runs, played by fake_service.py with the given faults."""
    return (
        ServiceSpec(
            "device-server",
            "bec-device-server",
            ("DeviceServer",),
            device_config=True,
            argv=(sys.executable, str(FAKE)),
            extra_args=("--fake-name", "DeviceServer", "--fake-mode", device_mode),
        ),
        ServiceSpec(
            "scan-server",
            "bec-scan-server",
            ("ScanServer", "ScanBundler"),
            argv=(sys.executable, str(FAKE)),
            extra_args=("--fake-name", "ScanServer", "--fake-extra", "ScanBundler", "--fake-mode", scan_mode),
        ),
    )


@pytest.fixture
def device_config(tmp_path: Path) -> Path:
    """A device configuration file (the fake services only check that it is passed)."""
    path = tmp_path / "devices.yaml"
    path.write_text("samx:\n  deviceClass: ophyd.sim.SynAxis\n")
    return path


@pytest.fixture
def make_opts(tmp_path: Path, device_config: Path) -> Iterator[MakeOpts]:
    """Build LaunchOptions for a state dir under tmp_path; whatever is still running afterwards is killed."""
    made: list[LaunchOptions] = []

    def make(
        redis_url: str,
        device_mode: str = "ok",
        scan_mode: str = "ok",
        env: dict[str, str] | None = None,
        timeout: float = 20.0,
        shutdown: float = 10.0,
    ) -> LaunchOptions:
        settings = load_settings(
            None, env=env or {}, overrides={"redis": {"url": redis_url}, "timeouts": {"shutdown": shutdown}}
        )
        opts = LaunchOptions(
            settings=settings,
            state=StateDir(tmp_path / "state"),
            device_config=device_config,
            specs=fake_specs(device_mode, scan_mode),
            timeout=timeout,
        )
        made.append(opts)
        return opts

    yield make
    for opts in made:
        pids = [pid for key in opts.state.recorded() if (pid := opts.state.read_pid(key)) and is_alive(pid)]
        stop_processes(pids, 2.0)
