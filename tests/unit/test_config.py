"""Settings: defaults, file < environment < command line, and errors that say where."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import redis
import redis.asyncio

from bec_core.config import (
    RedisSettings,
    ServiceSettings,
    add_common_arguments,
    load_settings,
    settings_from_args,
)
from bec_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults ------------------------------------------------------------------------------------


def test_defaults() -> None:
    settings = load_settings(env={})
    assert settings.redis.url == "redis://127.0.0.1:6379"
    assert settings.redis.username is None and settings.redis.password is None
    assert settings.redis.socket_timeout == 5.0
    assert settings.log_level == "INFO"
    assert settings.state_dir == Path("~/.bec-core").expanduser()
    assert settings.timeouts.device_action == 30.0
    assert settings.timeouts.heartbeat_interval == 3.0
    assert settings.timeouts.heartbeat_expiry == 6.0
    assert settings.device_server.allowed_modules == ["ophyd", "ophyd_devices", "bec_device_server"]
    assert settings.device_server.max_workers == 16
    assert settings.scan_server.pause_queue_on_failure is False
    assert settings.scan_server.segment_expiry_s == 1800


def test_shipped_services_yaml_holds_the_defaults() -> None:
    assert load_settings(REPO / "config" / "services.yaml", env={}) == ServiceSettings()


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path / "s.yaml", "# nothing\n"), env={}) == ServiceSettings()


def test_password_not_in_repr() -> None:
    assert "s3cret" not in repr(RedisSettings(password="s3cret"))


# -- precedence ----------------------------------------------------------------------------------


def test_file_values_are_used(tmp_path: Path) -> None:
    path = write(
        tmp_path / "services.yaml",
        "redis:\n  url: redis://file-host:7000/2\n"
        "log_level: warning\n"
        "timeouts:\n  device_read: 1.5\n"
        "device_server:\n  allowed_modules: [mine]\n"
        "scan_server:\n  pause_queue_on_failure: true\n",
    )
    settings = load_settings(path, env={})
    assert settings.redis.url == "redis://file-host:7000/2"
    assert settings.log_level == "WARNING"
    assert settings.timeouts.device_read == 1.5
    assert settings.timeouts.device_action == 30.0  # untouched siblings keep their defaults
    assert settings.device_server.allowed_modules == ["mine"]
    assert settings.scan_server.pause_queue_on_failure is True


def test_environment_beats_file_and_command_line_beats_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path / "services.yaml",
        "redis:\n  url: redis://file-host:7000\n  username: file-user\n"
        "log_level: ERROR\nstate_dir: /file/state\n",
    )
    env = {
        "BEC_REDIS_URL": "redis://env-host:7001",
        "BEC_REDIS_PASSWORD": "env-pw",
        "BEC_LOG_LEVEL": "debug",
        "BEC_STATE_DIR": "/env/state",
        "BEC_SOMETHING_ELSE": "ignored",
    }
    settings = load_settings(path, env=env)
    assert settings.redis.url == "redis://env-host:7001"
    assert settings.redis.username == "file-user"  # not set by env: the file's value stays
    assert settings.redis.password == "env-pw"
    assert settings.log_level == "DEBUG"
    assert settings.state_dir == Path("/env/state")

    overrides = {"redis": {"url": "cli-host:7002"}, "log_level": "critical", "state_dir": None}
    settings = load_settings(path, env=env, overrides=overrides)
    assert settings.redis.url == "redis://cli-host:7002"
    assert settings.redis.password == "env-pw"
    assert settings.log_level == "CRITICAL"
    assert settings.state_dir == Path("/env/state")  # None in overrides means "flag not given"


def test_empty_environment_value_counts_as_unset(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "log_level: ERROR\n")
    assert load_settings(path, env={"BEC_LOG_LEVEL": "", "BEC_REDIS_URL": ""}).log_level == "ERROR"


def test_state_dir_tilde_is_expanded(tmp_path: Path) -> None:
    settings = load_settings(env={"BEC_STATE_DIR": "~/somewhere"})
    assert settings.state_dir == Path.home() / "somewhere"


def test_command_line_flags(tmp_path: Path) -> None:
    path = write(tmp_path / "services.yaml", "redis:\n  url: redis://file-host:7000\nlog_level: ERROR\n")
    parser = add_common_arguments(argparse.ArgumentParser())
    args = parser.parse_args(
        ["--redis", "beamline-redis:6380", "--service-config", str(path), "--log-level", "debug"]
    )
    settings = settings_from_args(args, env={"BEC_LOG_LEVEL": "WARNING"})
    assert settings.redis.url == "redis://beamline-redis:6380"
    assert settings.log_level == "DEBUG"

    args = parser.parse_args(["--state-dir", str(tmp_path / "st")])
    settings = settings_from_args(args, env={})
    assert settings.state_dir == tmp_path / "st"
    assert settings.redis.url == "redis://127.0.0.1:6379"


def test_command_line_rejects_unknown_log_level() -> None:
    parser = add_common_arguments(argparse.ArgumentParser())
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-level", "chatty"])


# -- Redis URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("localhost:6379", "redis://localhost:6379"),
        ("10.0.0.5:7000", "redis://10.0.0.5:7000"),
        ("[::1]:6379", "redis://[::1]:6379"),
        ("redis://h:1/3", "redis://h:1/3"),
        ("rediss://h:6380", "rediss://h:6380"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_url_forms(given: str, expected: str) -> None:
    assert RedisSettings(url=given).url == expected


def test_unix_socket_url_connection_kwargs() -> None:
    kwargs = RedisSettings(url="unix:///run/redis/redis.sock?db=2", socket_timeout=2.0).connection_kwargs()
    assert kwargs["url"] == "unix:///run/redis/redis.sock?db=2"
    assert kwargs["socket_timeout"] == 2.0
    pool = redis.asyncio.Redis.from_url(**kwargs).connection_pool
    assert pool.connection_class is redis.asyncio.UnixDomainSocketConnection
    assert pool.connection_kwargs["path"] == "/run/redis/redis.sock"
    assert pool.connection_kwargs["db"] == 2


def test_tcp_url_connection_kwargs() -> None:
    pool = redis.asyncio.Redis.from_url(**RedisSettings(url="h:7000").connection_kwargs()).connection_pool
    assert pool.connection_kwargs["host"] == "h"
    assert pool.connection_kwargs["port"] == 7000
    assert pool.connection_kwargs["socket_connect_timeout"] == 5.0


def test_tls_url_uses_ssl_connection() -> None:
    pool = redis.asyncio.Redis.from_url(
        **RedisSettings(url="rediss://h:6380").connection_kwargs()
    ).connection_pool
    assert pool.connection_class is redis.asyncio.SSLConnection


def test_credentials_in_url_are_used_unless_overridden() -> None:
    from_url = RedisSettings(url="redis://alice:p%40ss@h:6379/1").connection_kwargs()
    assert from_url["url"] == "redis://h:6379/1"
    assert (from_url["username"], from_url["password"]) == ("alice", "p@ss")

    overridden = RedisSettings(url="redis://alice:old@h:6379/1", username="bob", password="new")
    kwargs = overridden.connection_kwargs()
    assert (kwargs["username"], kwargs["password"]) == ("bob", "new")
    pool = redis.asyncio.Redis.from_url(**kwargs).connection_pool
    assert pool.connection_kwargs["username"] == "bob"
    assert pool.connection_kwargs["password"] == "new"
    assert pool.connection_kwargs["db"] == 1
    assert "old" not in overridden.redacted_url() and "***" in overridden.redacted_url()


def test_unix_url_credentials_are_separated() -> None:
    kwargs = RedisSettings(url="unix://:pw@/tmp/r.sock").connection_kwargs()
    assert kwargs["url"] == "unix:///tmp/r.sock"
    assert kwargs["password"] == "pw"


def test_no_credentials_means_no_credential_kwargs() -> None:
    kwargs = RedisSettings().connection_kwargs()
    assert "username" not in kwargs and "password" not in kwargs


# -- errors --------------------------------------------------------------------------------------


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"{re.escape(str(missing))}: file not found"):
        load_settings(missing, env={})


def test_invalid_yaml_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "redis: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{re.escape(str(path))}: invalid YAML"):
        load_settings(path, env={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match=f"{re.escape(str(path))}: expected a mapping"):
        load_settings(path, env={})


def test_invalid_url_in_file_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "services.yaml", "redis:\n  url: http://example.org\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(info.value).startswith(f"{path}: redis.url: ")
    assert "http" in str(info.value)


def test_invalid_number_in_file_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "services.yaml", "timeouts:\n  device_action: soon\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: timeouts\.device_action: "):
        load_settings(path, env={})


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "services.yaml", "redis:\n  url: h:1\n  pasword: x\nscan_sever: {}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert f"{path}: redis.pasword: Extra inputs are not permitted" in message
    assert f"{path}: scan_sever: Extra inputs are not permitted" in message


def test_invalid_environment_value_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path / "services.yaml", "log_level: INFO\n")
    with pytest.raises(ConfigError, match=r"environment variable BEC_LOG_LEVEL: log_level: .*chatty"):
        load_settings(path, env={"BEC_LOG_LEVEL": "chatty"})


def test_invalid_override_names_the_command_line() -> None:
    with pytest.raises(ConfigError, match=r"^command line: redis\.url: "):
        load_settings(env={}, overrides={"redis": {"url": "no-port-here"}})


def test_invalid_port_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"redis\.url: .*invalid port"):
        load_settings(env={"BEC_REDIS_URL": "redis://h:99999"})


def test_heartbeat_expiry_must_exceed_interval(tmp_path: Path) -> None:
    path = write(tmp_path / "services.yaml", "timeouts:\n  heartbeat_interval: 5\n  heartbeat_expiry: 4\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: timeouts: .*heartbeat_expiry"):
        load_settings(path, env={})
