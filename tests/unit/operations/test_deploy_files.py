"""docker-compose.yml, Dockerfile and the systemd units name real entry points and files.

There is no Docker engine here: the compose file is parsed and checked against
pyproject.toml. The systemd units are checked with ``systemd-analyze verify``
where it exists (any output counts as a failure).
"""

from __future__ import annotations

import importlib
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bec_core.launcher.cli import build_parser
from bec_core.launcher.specs import find_spec

REPO = Path(__file__).resolve().parents[3]
SYSTEMD = REPO / "deploy" / "systemd"
SCRIPTS: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
INSTALL_BIN = "/opt/bec-core/venv/bin/"


def assert_console_script(name: str) -> None:
    """``name`` is declared in pyproject.toml and its ``module:function`` imports."""
    assert name in SCRIPTS, f"{name} is not a console script in pyproject.toml"
    module, _, attr = SCRIPTS[name].partition(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_bec_server_is_declared_and_installed() -> None:
    assert SCRIPTS["bec-server"] == "bec_core.launcher.cli:main"
    assert_console_script("bec-server")
    assert (Path(sys.executable).parent / "bec-server").is_file()


# -- docker-compose.yml ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _expand(text: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?error} with nothing set: the default, or 'x'."""
    return re.sub(
        r"\$\{\w+(?::-([^}]*)|:\?[^}]*)?\}", lambda m: m.group(1) if m.group(1) is not None else "x", text
    )


def test_compose_has_redis_with_persistence(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = [_expand(str(part)) for part in redis["command"]]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]
    assert redis["restart"] in ("always", "unless-stopped")
    assert redis["healthcheck"]["test"]


@pytest.mark.parametrize(("service", "command", "heartbeat"), [
    ("device-server", "bec-device-server", "DeviceServer"),
    ("scan-server", "bec-scan-server", "ScanServer"),
    ("dap", "bec-dap", "DAPServer/LmfitService1D"),
    ("scihub", "bec-scihub", "SciHub"),
    ("file-writer", "bec-file-writer", "FileWriterManager"),
])  # fmt: skip
def test_compose_service_runs_a_real_entry_point(
    compose: dict[str, Any], service: str, command: str, heartbeat: str
) -> None:
    spec = compose["services"][service]
    assert spec["build"] == "."
    argv = [_expand(str(part)) for part in spec["command"]]
    assert argv[0] == command
    assert_console_script(argv[0])
    assert spec["restart"] in ("always", "unless-stopped", "on-failure")
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
    env = spec["environment"]
    assert env["BEC_REDIS_URL"] == "redis://redis:6379"
    assert "BEC_REDIS_PASSWORD" in env

    # every file the command names is in the mounted config directory
    mounts = dict(volume.split(":")[1::-1] for volume in spec["volumes"])  # target -> source
    assert mounts["/etc/bec"] == "./config"
    for arg in argv:
        if arg.startswith("/etc/bec/"):
            assert (REPO / "config" / arg.removeprefix("/etc/bec/")).is_file(), arg

    test = spec["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "bec-server"
    assert_console_script(test[1])
    args = build_parser().parse_args(test[2:])
    assert args.verb == "check" and args.redis == "redis:6379"
    assert heartbeat in find_spec(args.service[0]).heartbeats


def test_compose_redis_password_is_required_everywhere(compose: dict[str, Any]) -> None:
    redis_command = " ".join(map(str, compose["services"]["redis"]["command"]))
    assert "--requirepass ${BEC_REDIS_PASSWORD:?" in redis_command
    for name in ("device-server", "scan-server", "dap", "scihub", "file-writer"):
        assert compose["services"][name]["environment"]["BEC_REDIS_PASSWORD"].startswith(
            "${BEC_REDIS_PASSWORD"
        )


def test_dockerfile_builds_a_non_root_image_from_the_package() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install .") for line in instructions)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    for line in instructions:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                if "[" not in source:
                    assert (REPO / source).exists(), source
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "tests" in ignored and ".git" in ignored


# -- systemd -----------------------------------------------------------------------------------------

UNITS = (
    "bec-device-server.service",
    "bec-scan-server.service",
    "bec-dap.service",
    "bec-scihub.service",
    "bec-file-writer.service",
)


def _unit(name: str) -> dict[str, list[str]]:
    """``key -> values`` of a unit file (sections flattened; enough for these checks)."""
    out: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("name", UNITS)
def test_unit_runs_a_real_entry_point_after_redis(name: str) -> None:
    unit = _unit(name)
    argv = shlex.split(unit["ExecStart"][0])
    assert argv[0].startswith(INSTALL_BIN)
    script = argv[0].removeprefix(INSTALL_BIN)
    assert script == name.removesuffix(".service")
    assert_console_script(script)
    assert "redis-server.service" in unit["After"][0].split()
    assert "redis-server.service" in unit["Requires"][0].split()
    assert unit["PartOf"] == ["bec.target"] and unit["WantedBy"] == ["bec.target"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["User"] == ["bec"]
    assert unit["EnvironmentFile"] == ["/etc/bec/bec.env"]


def test_target_wants_every_service() -> None:
    assert set(_unit("bec.target")["Wants"][0].split()) == set(UNITS)
    example = (SYSTEMD / "bec.env.example").read_text()
    assert "BEC_REDIS_URL=" in example and "BEC_REDIS_PASSWORD=" in example


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_is_silent(tmp_path: Path) -> None:
    # ExecStart must exist for verify: point it at this environment's scripts.
    for path in SYSTEMD.iterdir():
        if path.suffix in (".service", ".target"):
            text = path.read_text().replace(INSTALL_BIN, str(Path(sys.executable).parent) + "/")
            (tmp_path / path.name).write_text(text)
    # stands in for the distribution's redis-server unit the services require
    (tmp_path / "redis-server.service").write_text(
        "[Unit]\nDescription=redis stand-in\n[Service]\nExecStart=/bin/true\n"
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", *UNITS, "bec.target"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
