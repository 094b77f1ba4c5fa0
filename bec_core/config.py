"""Service settings: a YAML file, then ``BEC_*`` environment variables, then CLI flags.

Configuration enters a process once: its CLI calls :func:`settings_from_args` (or
:func:`load_settings`) and passes the resulting :class:`ServiceSettings` down.
Sources are applied in this order, later ones winning:

1. the defaults of the models below (also written out in ``config/services.yaml``);
2. the YAML file given with ``--service-config FILE`` (unknown keys are an error);
3. environment variables (an empty value counts as unset):

   =======================  ===================
   ``BEC_REDIS_URL``        ``redis.url``
   ``BEC_REDIS_TCP_URL``    ``redis.tcp_url``
   ``BEC_REDIS_USERNAME``   ``redis.username``
   ``BEC_REDIS_PASSWORD``   ``redis.password``
   ``BEC_LOG_LEVEL``        ``log_level``
   ``BEC_STATE_DIR``        ``state_dir``
   ``BEC_FILE_WRITER_BASE_PATH`` ``file_writer.base_path``
   ``BEC_SCAN_PLUGIN_PATHS`` ``scan_server.plugin_paths`` (``os.pathsep``-separated)
   =======================  ===================

   Other ``BEC_*`` variables are ignored.
4. command-line flags (``--redis``, ``--log-level``, ``--state-dir``), passed as ``overrides``.

Every error is a :class:`~bec_core.errors.ConfigError` that names where the bad
value came from and its field path, e.g.
``config/services.yaml: redis.url: Value error, unsupported scheme 'http' ...``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bec_core.errors import ConfigError

__all__ = [
    "ENV_VARIABLES",
    "DeviceServerSettings",
    "FileWriterSettings",
    "LogbookSettings",
    "RedisSettings",
    "ScanLimits",
    "ScanServerSettings",
    "SciHubSettings",
    "ServiceSettings",
    "TimeoutSettings",
    "add_common_arguments",
    "load_settings",
    "settings_from_args",
]

#: Environment variable -> field path it sets.
ENV_VARIABLES: dict[str, tuple[str, ...]] = {
    "BEC_REDIS_URL": ("redis", "url"),
    "BEC_REDIS_TCP_URL": ("redis", "tcp_url"),
    "BEC_REDIS_USERNAME": ("redis", "username"),
    "BEC_REDIS_PASSWORD": ("redis", "password"),
    "BEC_LOG_LEVEL": ("log_level",),
    "BEC_STATE_DIR": ("state_dir",),
    "BEC_FILE_WRITER_BASE_PATH": ("file_writer", "base_path"),
    "BEC_SCAN_PLUGIN_PATHS": ("scan_server", "plugin_paths"),
}

_SCHEMES = ("redis", "rediss", "unix")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def normalize_redis_url(value: str) -> str:
    """Return ``value`` as a Redis URL; BEC's short form ``host:port`` becomes ``redis://host:port``.

    Raises:
        ValueError: not a ``redis://``, ``rediss://`` or ``unix://`` URL, nor ``host:port``.
    """
    value = value.strip()
    if "://" not in value:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or "/" in host:
            raise ValueError(f"expected HOST:PORT or a redis://, rediss:// or unix:// URL, not {value!r}")
        return f"redis://{host}:{port}"
    parts = urlsplit(value)
    if parts.scheme not in _SCHEMES:
        raise ValueError(
            f"unsupported scheme {parts.scheme!r} in {value!r}; use one of {', '.join(_SCHEMES)}"
        )
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"unix URL without a socket path: {value!r}")
    else:
        if not parts.hostname:
            raise ValueError(f"URL without a host: {value!r}")
        try:
            _port = parts.port  # urllib raises ValueError for a port that is no number in range
        except ValueError as exc:
            raise ValueError(f"invalid port in {value!r}") from exc
        if _port == 0:
            raise ValueError(f"invalid port 0 in {value!r}")
    return value


class RedisSettings(_Settings):
    """Where and how to reach Redis."""

    url: str = "redis://127.0.0.1:6379"
    """``redis://``, ``rediss://`` (TLS) or ``unix://`` URL, or ``host:port``."""
    username: str | None = None
    """ACL user; overrides a user name carried in ``url``."""
    password: str | None = Field(default=None, repr=False)
    """Overrides a password carried in ``url``."""
    socket_timeout: float = Field(default=5.0, gt=0)
    """Seconds for connecting and for any single socket operation."""
    outage_timeout: float = Field(default=60.0, ge=1.0, le=86_400.0)
    """Seconds a service rides out a Redis outage (commands retried with back-off, scans held)
    before it gives up: the running scan then ends ``aborted``, "Redis unavailable for N s"."""
    tcp_url: str | None = None
    """The same Redis's TCP address when ``url`` is its unix socket, for stock bec_lib (hosted
    stock scan classes), which connects by host and port only. ``bec-server`` sets it when it
    gives its services the embedded Redis's socket; None means ``url``."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return normalize_redis_url(value)

    @field_validator("tcp_url")
    @classmethod
    def _check_tcp_url(cls, value: str | None) -> str | None:
        return None if value is None else normalize_redis_url(value)

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.asyncio.Redis.from_url(**kwargs)`` (or the sync one).

        The credentials are taken out of the URL and passed separately, because
        redis-py lets values parsed from the URL win over keyword arguments;
        ``username``/``password`` set here win over those in the URL.
        """
        parts = urlsplit(self.url)
        netloc = parts.netloc.rpartition("@")[2]  # host[:port] without credentials
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        if parts.scheme == "unix" and not netloc:
            url = f"unix://{parts.path}" + (f"?{parts.query}" if parts.query else "")
        username = self.username if self.username is not None else _unquoted(parts.username)
        password = self.password if self.password is not None else _unquoted(parts.password)
        kwargs: dict[str, Any] = {
            "url": url,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
        }
        if username is not None:
            kwargs["username"] = username
        if password is not None:
            kwargs["password"] = password
        return kwargs

    def redacted_url(self) -> str:
        """The URL with any password replaced by ``***`` (for logs)."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = quote(unquote(parts.username or ""), safe="")
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def _unquoted(value: str | None) -> str | None:
    return unquote(value) if value else None


class TimeoutSettings(_Settings):
    """Deadlines in seconds."""

    device_action: float = Field(default=30.0, gt=0)
    device_read: float = Field(default=5.0, gt=0)
    instruction_reply: float = Field(default=10.0, gt=0)
    heartbeat_interval: float = Field(default=3.0, gt=0)
    heartbeat_expiry: float = Field(default=6.0, gt=0)
    shutdown: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _expiry_after_interval(self) -> TimeoutSettings:
        # A heartbeat key that expires before the next beat would make a live service look dead.
        if self.heartbeat_expiry <= self.heartbeat_interval:
            raise ValueError(
                f"heartbeat_expiry ({self.heartbeat_expiry:g} s) must be longer than "
                f"heartbeat_interval ({self.heartbeat_interval:g} s)"
            )
        return self


class DeviceServerSettings(_Settings):
    """Settings of ``bec-device-server``."""

    allowed_modules: list[str] = Field(
        default_factory=lambda: ["ophyd", "ophyd_devices", "bec_device_server"]
    )
    """Top-level modules a device configuration may name a device class from."""
    readback_rate_limit_hz: float = Field(default=20.0, gt=0)
    """Most readback publications per device and second."""
    max_workers: int = Field(default=16, ge=1)
    """Size of the thread pool ophyd calls run in."""
    start_without_devices: bool = False
    """Start (and serve config requests) even when every enabled device of the config failed to
    build; by default the device server then exits with status 2 naming the failed devices."""
    config_history_size: int = Field(default=50, ge=1)
    """How many replaced configs ``info/devices/config_history`` keeps (stock: 50)."""


class ScanLimits(_Settings):
    """Upper bounds on what one scan request may ask for (refused with a clear text above them)."""

    max_exp_time_s: float = Field(default=86_400.0, gt=0)
    """Longest exposure per frame (default one day)."""
    max_settling_time_s: float = Field(default=3_600.0, gt=0)
    """Longest settling time (also ``settling_time_after_trigger``, ``readout_time``)."""
    max_interval_s: float = Field(default=86_400.0, gt=0)
    """Longest interval between the points of a ``time_scan``."""
    max_frames_per_trigger: int = Field(default=100_000, ge=1)
    """Most frames per trigger."""
    max_burst_at_each_point: int = Field(default=100_000, ge=1)
    """Most readouts at each position."""
    max_points: int = Field(default=1_000_000, ge=1)
    """Most readouts of one scan (points times bursts); checked before any position is computed."""
    max_request_bytes: int = Field(default=512 * 1024, ge=1024)
    """Largest scan request accepted (bytes as received); a larger one is refused before it is
    decoded, so a burst of oversized requests is drained at once."""


class ScanServerSettings(_Settings):
    """Settings of ``bec-scan-server``."""

    limits: ScanLimits = Field(default_factory=ScanLimits)
    """Upper bounds on scan arguments."""

    pause_queue_on_failure: bool = False
    """Pause the queue when a scan fails, instead of going on with the next one."""
    segment_expiry_s: int = Field(default=1800, gt=0)
    """Lifetime in Redis of the per-scan data keys, in seconds."""
    public_segment_window: int = Field(default=10_000, ge=0)
    """How many of a scan's newest points keep their ``info/public/<id>/scan_segment/<n>`` key
    (older ones are deleted as new points arrive, so a long scan does not grow Redis without
    bound; the points themselves all go out on ``info/scans/scan_segment``). 0 keeps them all."""
    points_per_instruction: int = Field(default=16, ge=1, le=1000)
    """A step scan's short points go to the device server several per instruction, at most this
    many and at most :attr:`batch_budget_s` of expected device time per instruction (1: one point
    per instruction). Fewer hand-offs per point; a pause waits for the instruction in flight."""
    batch_budget_s: float = Field(default=0.01, gt=0, le=10)
    """The device time (s) that one instruction of several points may be expected to take: the
    settling, exposure and measured time per point decide how many points go together."""
    plugin_paths: list[Path] = Field(default_factory=list)
    """Extra import directories searched for scan plugins, appended after the scan server's own
    site-packages (docs/decisions/0006): e.g. a ``pip install --target DIR bec-server==4.3.2
    <plugin>`` directory holding stock BEC and a beamline plugin written for its scan classes."""

    @field_validator("plugin_paths", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):  # from BEC_SCAN_PLUGIN_PATHS
            return [part for part in value.split(os.pathsep) if part]
        return value


MessagingServiceName = Literal["scilog", "teams", "signal"]


def _default_services() -> list[MessagingServiceName]:
    return ["scilog"]


class LogbookSettings(_Settings):
    """Where ``bec-scihub`` delivers messages for SciLog, Teams and Signal (docs/scihub.md)."""

    sinks: list[str] = Field(default_factory=lambda: ["file"])
    """Names of entry points in the group ``bec_core.logbook_sinks``: ``file``, ``stream``, or a
    site's own (e.g. a SciLog connector package)."""
    file: Path | None = None
    """The ``file`` sink's JSON-lines file; default ``<state_dir>/scihub/logbook.jsonl``."""
    stream_maxlen: int = Field(default=10_000, gt=0)
    """The ``stream`` sink keeps about this many entries of ``internal/scihub/logbook``."""
    services: list[MessagingServiceName] = Field(default_factory=lambda: _default_services())
    """Services advertised to clients (``bec.messaging.<service>``) and routed notifications go to."""
    scope: str = "local"
    """The scope (logbook / channel name) advertised for each service, also its default."""


class SciHubSettings(_Settings):
    """Settings of ``bec-scihub``."""

    acl_refresh_s: float = Field(default=30.0, gt=0)
    """How often the ACL accounts are re-read for ``public/acl/login_info``."""
    restart_command: list[str] | None = None
    """Argument vector run for a ``restart`` service request, e.g. ``[sudo, systemctl, restart,
    bec.target]``; unset: restart the services ``bec-server`` started (same state directory)."""
    logbook: LogbookSettings = Field(default_factory=LogbookSettings)


class FileWriterSettings(_Settings):
    """Settings of ``bec-file-writer`` (``base_path`` is also read by the scan server)."""

    base_path: str = "./data"
    """Data directory (stock's default ``./data``, relative to the scan server's working
    directory); the active account is appended as a directory, or substituted for
    ``$account``. Files go to ``<base_path>/S00000-00999/S00001/S00001_master.h5``."""
    flush_interval_s: float = Field(default=0.2, gt=0)
    """Longest time rows of a running scan stay unflushed (a flush point: the file on disk
    is consistent and readable by others up to it)."""
    flush_rows: int = Field(default=1000, ge=1)
    """Flush after this many rows even sooner."""
    segment_grace_s: float = Field(default=5.0, gt=0)
    """After a scan's final status, how long to wait for missing points (then they are
    fetched from Redis, and the file is marked incomplete if some are still missing)."""
    max_pending_points: int = Field(default=50_000, ge=1)
    """Most points of one scan held in memory while the file lags behind; later ones are
    read back from Redis (``info/public/<id>/scan_segment/<n>``) when the writer catches up."""
    history_max: int = Field(default=10_000, ge=1)
    """Length of the scan-history stream (stock: 10,000)."""


class ServiceSettings(_Settings):
    """Everything a bec-core service is configured with."""

    redis: RedisSettings = Field(default_factory=RedisSettings)
    log_level: str = "INFO"
    state_dir: Path = Path("~/.bec-core")
    """Local files of the services; ``~`` is expanded."""
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    device_server: DeviceServerSettings = Field(default_factory=DeviceServerSettings)
    scan_server: ScanServerSettings = Field(default_factory=ScanServerSettings)
    scihub: SciHubSettings = Field(default_factory=SciHubSettings)
    file_writer: FileWriterSettings = Field(default_factory=FileWriterSettings)

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        level = "WARNING" if level == "WARN" else level
        if level not in _LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}; use one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


# -- loading -------------------------------------------------------------------------------------

_Origins = dict[tuple[str, ...], str]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}"
        )
    return data


def _merge(
    target: dict[str, Any], source: Mapping[str, Any], label: str, origins: _Origins, at: tuple[str, ...] = ()
) -> None:
    """Deep-merge ``source`` into ``target``, recording in ``origins`` which source set each leaf."""
    for key, value in source.items():
        path = (*at, str(key))
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value, label, origins, path)
            continue
        for known in [p for p in origins if p[: len(path)] == path]:
            del origins[known]  # a replaced value or subtree no longer comes from the earlier source
        if isinstance(value, Mapping):
            target[key] = {}
            _merge(target[key], value, label, origins, path)
        else:
            target[key] = value
        origins[path] = label


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        out = {key: out}
    return out


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """Leave out ``None`` values: a CLI flag that was not given must not override anything."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            value = _drop_none(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def _source_of(loc: tuple[str, ...], origins: _Origins) -> str:
    exact = [origins[p] for p in origins if loc[: len(p)] == p]  # loc inside a leaf some source set
    if exact:
        return exact[-1]
    below = sorted({origins[p] for p in origins if p[: len(loc)] == loc})  # a subtree, e.g. model checks
    return " / ".join(below) if below else "defaults"


def load_settings(
    path: Path | str | None = None,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, Any] | None = None,
) -> ServiceSettings:
    """Build the settings from defaults, the YAML file ``path``, ``BEC_*`` variables and ``overrides``.

    ``overrides`` is a nested dict as produced from CLI flags; ``None`` values in it
    are ignored. See the module docstring for the variables.

    Raises:
        ConfigError: the file is missing or not valid YAML, or a value is invalid or
            unknown; the message names the file (or variable, or "command line") and
            the field path.
    """
    data: dict[str, Any] = {}
    origins: _Origins = {}
    if path is not None:
        _merge(data, _read_yaml(Path(path)), str(path), origins)
    for name, field in ENV_VARIABLES.items():
        value = env.get(name)
        if value:
            _merge(data, _nested(field, value), f"environment variable {name}", origins)
    if overrides:
        _merge(data, _drop_none(overrides), "command line", origins)
    try:
        return ServiceSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(str(part) for part in error["loc"])
            problems.append(f"{_source_of(loc, origins)}: {'.'.join(loc) or '(top level)'}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from None


# -- command line --------------------------------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the flags every service shares.

    They are ``--redis``, ``--service-config``, ``--log-level`` and ``--state-dir``;
    all default to ``None`` (not given), so :func:`settings_from_args` can tell.
    """
    group = parser.add_argument_group("common service options")
    group.add_argument(
        "--redis",
        metavar="HOST:PORT|URL",
        help="Redis to use: host:port or a redis://, rediss:// or unix:// URL (env BEC_REDIS_URL)",
    )
    group.add_argument(
        "--service-config", type=Path, metavar="FILE", help="YAML settings file, e.g. config/services.yaml"
    )
    group.add_argument(
        "--log-level",
        type=str.upper,
        choices=(*_LOG_LEVELS, "WARN"),
        help="log level (env BEC_LOG_LEVEL; default INFO)",
    )
    group.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="directory for local state (env BEC_STATE_DIR)"
    )
    return parser


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> ServiceSettings:
    """Settings from the flags :func:`add_common_arguments` added, the file they name and ``env``."""
    overrides = {
        "redis": {"url": getattr(args, "redis", None)},
        "log_level": getattr(args, "log_level", None),
        "state_dir": getattr(args, "state_dir", None),
    }
    return load_settings(getattr(args, "service_config", None), env=env, overrides=overrides)
