"""What ``bec-server`` launches: one :class:`ServiceSpec` per service, and how to run it."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import bec_core
from bec_core.errors import ConfigError

__all__ = ["SERVICES", "ServiceSpec", "default_device_config", "find_spec", "resolve_command"]


@dataclass(frozen=True)
class ServiceSpec:
    """One service process ``bec-server`` starts.

    Attributes:
        key: short name, used for the PID file, the log file and log prefixes.
        command: the console script (declared in ``pyproject.toml``).
        heartbeats: the names under ``user/services/status/`` this process publishes.
        device_config: True if the service takes ``--config DEVICES.yaml``.
        extra_args: further arguments, appended last (tests use this).
        argv: run this argument vector instead of resolving ``command`` (tests use this).
    """

    key: str
    command: str
    heartbeats: tuple[str, ...]
    device_config: bool = False
    extra_args: tuple[str, ...] = ()
    argv: tuple[str, ...] = field(default=())

    @property
    def markers(self) -> tuple[str, ...]:
        """Strings of which one appears in the process's command line (guards against PID reuse)."""
        if self.argv:
            return (self.argv[-1],)
        return (self.command, self.command.replace("-", "_"))


#: The services ``bec-server start`` runs, in start order (they also start concurrently fine).
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("device-server", "bec-device-server", ("DeviceServer",), device_config=True),
    ServiceSpec("scan-server", "bec-scan-server", ("ScanServer", "ScanBundler")),
    ServiceSpec("dap", "bec-dap", ("DAPServer/LmfitService1D",)),
    ServiceSpec("scihub", "bec-scihub", ("SciHub",)),
    ServiceSpec("file-writer", "bec-file-writer", ("FileWriterManager",)),
)


def find_spec(name: str, specs: tuple[ServiceSpec, ...] = SERVICES) -> ServiceSpec:
    """The spec for ``name``: a key (``device-server``), a command or a heartbeat name (``DeviceServer``).

    Raises:
        ConfigError: no such service; the message lists the known names.
    """
    wanted = name.strip().lower()
    for spec in specs:
        names = {spec.key, spec.command, *(hb.lower() for hb in spec.heartbeats)}
        if wanted in names:
            return spec
    known = ", ".join(hb for spec in specs for hb in spec.heartbeats)
    raise ConfigError(f"unknown service {name!r}; known: {known} (or {', '.join(s.key for s in specs)})")


def resolve_command(spec: ServiceSpec) -> list[str]:
    """The argument vector that runs ``spec.command`` with this interpreter's installation.

    The console script next to ``sys.executable`` wins (the same virtual
    environment), then one on ``PATH``, then the entry point run through
    ``sys.executable -c`` (an installation without scripts).
    """
    if spec.argv:
        return list(spec.argv)
    local = Path(sys.executable).parent / spec.command
    if local.is_file():
        return [str(local)]
    found = shutil.which(spec.command)
    if found:
        return [found]
    matches = entry_points(group="console_scripts", name=spec.command)
    for ep in matches:
        code = (
            f"import sys; sys.argv[0] = {spec.command!r}; "
            f"from {ep.module} import {ep.attr} as main; sys.exit(main())"
        )
        return [sys.executable, "-c", code]
    raise ConfigError(
        f"cannot find the command {spec.command!r}: is bec-core installed in this environment ({sys.prefix})?"
    )


def default_device_config() -> Path | None:
    """``config/devices/demo.yaml`` of a source checkout (editable install), if it exists.

    A wheel install has no ``config/`` directory: the caller then needs ``--config``.
    """
    candidate = Path(bec_core.__file__).resolve().parents[1] / "config" / "devices" / "demo.yaml"
    return candidate if candidate.is_file() else None
