"""bec-server start/stop with stand-in services (fake_service.py) against a real redis-server."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from bec_core.endpoints import MessageEndpoints
from bec_core.launcher import LaunchError, LaunchOptions, start, stop
from bec_core.launcher.health import check, status
from bec_core.launcher.procs import is_alive
from bec_core.launcher.redis_setup import RedisTarget, probe
from bec_core.redis_server import RedisServer, free_port
from bec_core.serialization import loads_message

MakeOpts = Callable[..., LaunchOptions]


def recorded_pids(opts: LaunchOptions) -> dict[str, int]:
    return {key: pid for key in opts.state.recorded() if (pid := opts.state.read_pid(key)) is not None}


def test_start_status_stop_with_an_existing_redis(make_opts: MakeOpts, clean_redis: str) -> None:
    opts = make_opts(clean_redis)
    lines: list[str] = []
    started = start(opts, say=lines.append)

    assert [item.key for item in started] == ["device-server", "scan-server"]
    assert all(is_alive(item.pid) for item in started)
    assert recorded_pids(opts) == {item.key: item.pid for item in started}  # no redis.pid: not ours
    assert [line.split()[0] for line in lines] == ["device-server", "scan-server"]
    assert all("RUNNING" in line and str(item.log) in line for line, item in zip(lines, started, strict=True))
    client = redis.Redis.from_url(clean_redis)
    beat = loads_message(client.get(MessageEndpoints.service_status("ScanBundler").endpoint), "k")
    assert beat.info["pid"] == started[1].pid

    rows, redis_line = status(opts)
    assert [(r.heartbeat, r.state) for r in rows] == [
        ("DeviceServer", "RUNNING"),
        ("ScanServer", "RUNNING"),
        ("ScanBundler", "RUNNING"),
    ]
    assert rows[0].pid == started[0].pid and rows[0].uptime is not None
    assert "answers" in redis_line
    assert check(opts.settings.redis, list(opts.specs)) == (True, "running: DeviceServer, ScanServer, ScanBundler")

    with pytest.raises(LaunchError, match="already running"):
        start(opts, say=lines.append)

    assert stop(opts, say=lines.append) is True
    assert not any(is_alive(item.pid) for item in started)
    assert opts.state.recorded() == []
    # the services said goodbye: their heartbeats are no longer RUNNING
    ok, text = check(opts.settings.redis, list(opts.specs))
    assert not ok and "DeviceServer: IDLE" in text
    assert stop(opts, say=lines.append) is False
    assert lines[-1].startswith("nothing is running")


def test_embedded_redis_is_started_persisted_and_stopped_last(make_opts: MakeOpts) -> None:
    port = free_port()
    opts = make_opts(f"127.0.0.1:{port}")
    lines: list[str] = []
    started = start(opts, say=lines.append)
    redis_pid = started[0].pid
    assert started[0].key == "redis" and is_alive(redis_pid)
    assert opts.state.read_pid("redis") == redis_pid
    assert lines[0].startswith("redis") and f"127.0.0.1:{port}" in lines[0]
    client = redis.Redis(port=port)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert Path(client.config_get("dir")["dir"]) == opts.state.redis_data
    client.close()

    stop(opts, say=lines.append)
    assert [line.split()[0] for line in lines[-3:]] == ["device-server", "scan-server", "redis"]
    assert not is_alive(redis_pid)
    assert probe(opts.target) == "none"


def test_a_service_that_crashes_on_start_is_reported_and_everything_is_stopped(make_opts: MakeOpts) -> None:
    opts = make_opts(f"127.0.0.1:{free_port()}", device_mode="crash")
    with pytest.raises(LaunchError) as info:
        start(opts, say=lambda _: None)
    text = str(info.value)
    assert "device-server exited with status 1 during start" in text
    assert "boom: fake service crashed in setup" in text
    assert "including Redis" in text
    assert opts.state.recorded() == []
    assert probe(opts.target) == "none"


def test_a_service_that_exits_before_connecting_is_quoted(make_opts: MakeOpts, clean_redis: str) -> None:
    opts = make_opts(clean_redis, scan_mode="exit")
    with pytest.raises(LaunchError) as info:
        start(opts, say=lambda _: None)
    assert "scan-server exited with status 3" in str(info.value)
    assert "unknown device class 'Nope'" in str(info.value)
    assert opts.state.recorded() == []


def test_a_service_that_never_reports_running_times_out(make_opts: MakeOpts, clean_redis: str) -> None:
    opts = make_opts(clean_redis, device_mode="hang", timeout=1.0)
    with pytest.raises(LaunchError) as info:
        start(opts, say=lambda _: None)
    text = str(info.value)
    assert "not RUNNING within 1 s (DeviceServer: BUSY)" in text
    assert "device-server.log" in text
    assert opts.state.recorded() == []


def test_stop_kills_a_service_that_ignores_sigterm(make_opts: MakeOpts, clean_redis: str) -> None:
    opts = make_opts(clean_redis, scan_mode="ignore-term", shutdown=0.2)
    started = start(opts, say=lambda _: None)
    lines: list[str] = []
    stop(opts, say=lines.append)
    assert any(line.startswith("scan-server") and "killed after" in line for line in lines)
    assert any(line.startswith("device-server") and line.endswith("stopped") for line in lines)
    assert not any(is_alive(item.pid) for item in started)
    # the killed service's key still says RUNNING for a few seconds; a new start is not refused for it
    started = start(opts, say=lambda _: None)
    stop(opts, say=lambda _: None)


@pytest.fixture
def not_redis() -> Iterator[int]:
    """A port where something listens that is not Redis."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_taken_by_something_else_is_refused(make_opts: MakeOpts, not_redis: int) -> None:
    opts = make_opts(f"127.0.0.1:{not_redis}")
    with pytest.raises(LaunchError, match=f"127.0.0.1:{not_redis} is taken by a program that is not Redis"):
        start(opts, say=lambda _: None)
    assert opts.state.recorded() == []


def test_a_remote_redis_that_does_not_answer_is_not_replaced(make_opts: MakeOpts) -> None:
    opts = make_opts("redis://192.0.2.1:6379")  # TEST-NET-1: never routed
    with pytest.raises(LaunchError, match="bec-server starts its own Redis only on this host"):
        start(opts, say=lambda _: None)


def test_a_missing_device_config_is_named(make_opts: MakeOpts, clean_redis: str, tmp_path: Path) -> None:
    opts = make_opts(clean_redis)
    opts.device_config = tmp_path / "nope.yaml"
    with pytest.raises(LaunchError, match=r"device configuration .*nope.yaml not found"):
        start(opts, say=lambda _: None)


def test_another_deployment_on_the_same_redis_is_refused(
    make_opts: MakeOpts, clean_redis: str, tmp_path: Path
) -> None:
    first = make_opts(clean_redis)
    start(first, say=lambda _: None)
    second = make_opts(clean_redis)
    second.state = type(first.state)(tmp_path / "other-state")
    try:
        with pytest.raises(LaunchError, match=r"already running on .*DeviceServer \(pid \d+"):
            start(second, say=lambda _: None)
    finally:
        stop(first, say=lambda _: None)


# -- authentication --------------------------------------------------------------------------------


def test_services_connect_with_the_configured_acl_user(make_opts: MakeOpts, acl_redis: RedisServer) -> None:
    env = {"BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "s3cret"}
    opts = make_opts(acl_redis.url, env=env)
    started = start(opts, say=lambda _: None)
    names = redis.Redis.from_url(acl_redis.url, username="bec", password="s3cret").client_list()
    assert {"DeviceServer", "ScanServer"} <= {c["name"] for c in names}
    assert all(is_alive(item.pid) for item in started)
    stop(opts, say=lambda _: None)


def test_a_wrong_password_fails_the_start_and_names_the_user(
    make_opts: MakeOpts, acl_redis: RedisServer
) -> None:
    opts = make_opts(acl_redis.url, env={"BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "wrong"})
    with pytest.raises(LaunchError, match="refused user 'bec'") as info:
        start(opts, say=lambda _: None)
    assert "wrong" not in str(info.value)  # the password is never printed
    assert opts.state.recorded() == []


def test_the_embedded_redis_enforces_the_configured_credentials(make_opts: MakeOpts) -> None:
    port = free_port()
    opts = make_opts(f"127.0.0.1:{port}", env={"BEC_REDIS_USERNAME": "bec", "BEC_REDIS_PASSWORD": "pw"})
    start(opts, say=lambda _: None)
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        assert redis.Redis(port=port, username="bec", password="pw").ping()
        assert (opts.state.redis_data / "users.acl").stat().st_mode & 0o077 == 0
        assert RedisTarget.from_settings(opts.settings.redis).where == f"127.0.0.1:{port}"
    finally:
        stop(opts, say=lambda _: None)
