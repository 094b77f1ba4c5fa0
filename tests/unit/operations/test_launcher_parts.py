"""The launcher's building blocks: process helpers, state directory, specs, argument handling."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bec_core.config import load_settings
from bec_core.errors import ConfigError
from bec_core.launcher import SERVICES, LaunchOptions, StateDir
from bec_core.launcher.cli import build_parser, main
from bec_core.launcher.launcher import child_env, service_argv
from bec_core.launcher.procs import cmdline, is_alive, rss_kib, stop_processes, tail, wait_all_exit
from bec_core.launcher.specs import default_device_config, find_spec, resolve_command

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
    "time.sleep(60)",
]


def test_stop_processes_terminates_then_kills() -> None:
    polite = subprocess.Popen(SLEEPER)
    stubborn = subprocess.Popen(STUBBORN, stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
    stopped, killed = stop_processes([polite.pid, stubborn.pid], timeout=0.5)
    assert (stopped, killed) == ({polite.pid}, {stubborn.pid})
    assert polite.wait(5) == -signal.SIGTERM and stubborn.wait(5) == -signal.SIGKILL


def test_a_zombie_counts_as_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    assert wait_all_exit([proc.pid], 10.0) == set()  # exited, not yet reaped
    assert not is_alive(proc.pid)
    proc.wait()


def test_process_facts() -> None:
    # wait for "ready": right after fork, /proc shows the parent's command line until exec
    proc = subprocess.Popen(STUBBORN, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    try:
        assert is_alive(proc.pid)
        assert "time.sleep(60)" in " ".join(cmdline(proc.pid))
        assert (rss_kib(proc.pid) or 0) > 1000
        assert wait_all_exit([proc.pid], 0.05) == {proc.pid}
    finally:
        proc.kill()
        proc.wait()
    assert rss_kib(proc.pid) is None and cmdline(proc.pid) == []


def test_tail_reads_from_an_offset(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("old run\n" + "".join(f"line {i}\n" for i in range(30)))
    assert tail(log, lines=2) == "line 28\nline 29"
    assert tail(log, lines=100, start=len("old run\n")).splitlines()[0] == "line 0"
    assert tail(tmp_path / "missing.log") == ""


def test_state_dir_pid_files(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "s").ensure()
    proc = subprocess.Popen(STUBBORN, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    try:
        state.write_pid("svc", proc.pid)
        assert state.read_pid("svc") == proc.pid
        assert state.live_pid("svc", ["time.sleep"]) == proc.pid
        assert state.live_pid("svc", ["bec-device-server"]) is None  # a recycled pid is not ours
        assert state.recorded() == ["svc"]
    finally:
        proc.kill()
        proc.wait()
    assert state.live_pid("svc", ["time.sleep"]) is None
    state.remove_pid("svc")
    assert state.recorded() == [] and state.read_pid("svc") is None


def test_state_dir_lock_is_exclusive(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    with state.lock(), pytest.raises(ConfigError, match="another bec-server command"), state.lock():
        pass


def test_specs_and_commands() -> None:
    assert [s.key for s in SERVICES] == ["device-server", "scan-server", "dap", "scihub", "file-writer"]
    assert find_spec("dap").heartbeats == ("DAPServer/LmfitService1D",)
    assert find_spec("DeviceServer") is find_spec("device-server") is find_spec("bec-device-server")
    assert find_spec("scanbundler").key == "scan-server"
    with pytest.raises(ConfigError, match="unknown service 'nope'; known: DeviceServer"):
        find_spec("nope")
    for spec in SERVICES:
        argv = resolve_command(spec)
        assert argv == [str(Path(sys.executable).parent / spec.command)]
    config = default_device_config()
    assert config is not None and config.name == "demo.yaml"


def test_service_argv_passes_settings_through_without_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        env={"BEC_REDIS_PASSWORD": "pw", "BEC_REDIS_USERNAME": "bec"},
        overrides={"redis": {"url": "redis://10.0.0.5:6390"}},
    )
    opts = LaunchOptions(
        settings, StateDir(tmp_path), service_config=Path("config/services.yaml"), log_level="DEBUG"
    )
    device = service_argv(SERVICES[0], opts, Path("/x/devices.yaml"))
    assert device[1:] == [
        "--config", "/x/devices.yaml",
        "--redis", "redis://10.0.0.5:6390",
        "--state-dir", str(tmp_path),
        "--service-config", str(Path("config/services.yaml").absolute()),
        "--log-level", "DEBUG",
    ]  # fmt: skip
    assert "--config" not in service_argv(SERVICES[1], opts, Path("/x/devices.yaml"))
    assert "pw" not in " ".join(device)
    env = child_env(opts)
    assert env["BEC_REDIS_PASSWORD"] == "pw" and env["BEC_REDIS_USERNAME"] == "bec"


def test_parser_verbs() -> None:
    parser = build_parser()
    args = parser.parse_args(["start", "--config", "d.yaml", "--redis", "h:1", "--foreground"])
    assert (args.verb, args.config, args.redis, args.foreground) == ("start", Path("d.yaml"), "h:1", True)
    assert parser.parse_args(["check", "--service", "DeviceServer"]).service == ["DeviceServer"]
    with pytest.raises(SystemExit):
        parser.parse_args([])


def test_cli_stop_with_nothing_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stop", "--state-dir", str(tmp_path)]) == 0
    assert "nothing is running" in capsys.readouterr().out


def test_cli_check_of_an_unknown_service_is_a_usage_error(
    clean_redis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--service", "Nope", "--redis", clean_redis]) == 2
    assert "unknown service" in capsys.readouterr().err


def test_cli_check_and_status_when_nothing_runs(
    clean_redis: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--redis", clean_redis]) == 1
    assert "DeviceServer: no heartbeat" in capsys.readouterr().err
    assert main(["status", "--redis", clean_redis, "--state-dir", str(tmp_path)]) == 3
    assert "no heartbeat" in capsys.readouterr().out


def test_cli_check_when_redis_is_down(capsys: pytest.CaptureFixture[str]) -> None:
    from bec_core.redis_server import free_port

    assert main(["check", "--redis", f"127.0.0.1:{free_port()}"]) == 1
    assert "cannot reach Redis" in capsys.readouterr().err


def test_cli_bad_settings_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--redis", "http://x"]) == 2
    assert "unsupported scheme" in capsys.readouterr().err
